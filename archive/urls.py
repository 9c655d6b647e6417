from typing import Any

app_name = "archive"
urlpatterns: list[Any] = []
