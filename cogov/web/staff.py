"""Pages: staff case page and actions (filled in by the pages work of issue 4)."""

urlpatterns: list = []
