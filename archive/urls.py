from django.urls import path

from archive import views

app_name = "archive"
urlpatterns = [
    path("objects/<str:token>/", views.object_download, name="object-download"),
]
