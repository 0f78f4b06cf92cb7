DROP TABLE platform_starts;
