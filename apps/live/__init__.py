"""Live rooms, schedules, stream providers, danmaku, likes, pinned products, flash coupons, giveaways."""
