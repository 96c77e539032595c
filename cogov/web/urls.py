"""The pages' URL map: each part of the site keeps its own ``urlpatterns`` next to its views."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from cogov.web import citizen, console, dashboard, insight, staff, station
from cogov.web.forms import StaffLoginForm

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="web/login.html", authentication_form=StaffLoginForm),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    *citizen.urlpatterns,
    *staff.urlpatterns,
    *station.urlpatterns,
    *console.urlpatterns,
    *dashboard.urlpatterns,
    *insight.urlpatterns,
]
