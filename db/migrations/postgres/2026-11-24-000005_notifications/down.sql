DROP TABLE wechat_subscription_credits;
DROP TABLE campaigns;
DROP TABLE jpush_cids;
DROP TABLE notification_preferences;
DROP TABLE devices;
DROP TABLE notification_deliveries;
DROP TABLE notifications;
