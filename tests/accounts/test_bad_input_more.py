"""Bad input to the account pages that used to answer 500 is refused on the page, nothing written.

- Signing up with an e-mail address longer than the column takes (254): Django's form check lets
  320 characters through, and the account's insert failed.

Already refused or ignored in words: a NUL byte in the sign-up e-mail, password or display name,
in the sign-in e-mail or password, in any of the preferences (country, language, currency,
time zone, next) on the page or from the header's form; time zones such as "posixrules",
"/etc/localtime" or "America/../../etc"; a country, language or currency cookie holding a NUL
byte or other characters (quoted octal escapes), and odd Accept-Language headers. (A session
cookie holding a NUL byte: tests/livemall/test_bad_input_more.py.) Real PostgreSQL and Redis.
"""

from __future__ import annotations

import pytest

from apps.accounts.models import User

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("local_part", ["x" * 248, "x" * 300])
def test_signing_up_with_an_address_longer_than_the_column_is_refused_and_writes_nothing(client, local_part):
    email = f"{local_part}@a.test"

    response = client.post("/accounts/signup/", {"email": email, "display_name": "Noor", "password": "a-long-pass-1"})

    assert response.status_code == 200
    assert response.context["form"].errors["email"]
    assert not User.objects.exists()
