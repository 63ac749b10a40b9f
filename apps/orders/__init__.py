"""Cart, checkout, orders, inventory reservation, coupons, tax, shipping and ETA."""
