"""Pages: station (filled in by the pages work of issue 4)."""

urlpatterns: list = []
