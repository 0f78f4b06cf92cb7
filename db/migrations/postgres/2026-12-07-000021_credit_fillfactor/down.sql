ALTER TABLE wechat_subscription_credits RESET (fillfactor);
