from typing import Any

app_name = "frontend"
urlpatterns: list[Any] = []
