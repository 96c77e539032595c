"""Coordinate systems (坐标系): phones in China report GCJ-02 (高德/腾讯/微信) or BD-09 (百度); we store WGS-84."""

from __future__ import annotations

from fast_geocn import bd09_to_wgs84, gcj02_to_wgs84

SYSTEMS = ("wgs84", "gcj02", "bd09")


def to_wgs84(lon: float, lat: float, system: str) -> tuple[float, float]:
    """The WGS-84 point for ``(lon, lat)`` given in ``system``."""
    if system == "wgs84":
        return lon, lat
    if system == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if system == "bd09":
        return bd09_to_wgs84(lon, lat)
    raise ValueError(f"unknown coordinate system {system!r}")
