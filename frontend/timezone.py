"""The pages show and read times in the trading centre's zone, whatever the server's."""

from zoneinfo import ZoneInfo

PLATFORM_TZ = ZoneInfo("Asia/Shanghai")
