"""Approximate country centroids (lat, lon) for placing markets on the report's map.

Covers the ISO 3166 alpha-2 codes the bundled and generated instances use, plus
``EU`` (the EU-27 as one market, placed in central Europe). A market whose
country is not listed here is left off the map and named under it.
Values are rounded, hand-picked points inside each country (not area centroids
for countries with overseas parts).
"""

from __future__ import annotations

CENTROIDS: dict[str, tuple[float, float]] = {
    "AE": (24.0, 54.0), "AR": (-34.0, -64.0), "AT": (47.5, 14.5), "AU": (-25.0, 134.0), "BD": (24.0, 90.0),
    "BE": (50.5, 4.5), "BR": (-14.0, -51.0), "CA": (56.0, -106.0), "CH": (46.8, 8.2), "CL": (-35.0, -71.0),
    "CN": (35.0, 105.0), "CO": (4.0, -74.0), "CZ": (49.8, 15.5), "DE": (51.0, 10.0), "DK": (56.0, 10.0),
    "DZ": (28.0, 2.6), "EG": (26.8, 30.8), "ES": (40.0, -4.0), "EU": (50.0, 10.0), "FI": (64.0, 26.0),
    "FR": (46.5, 2.5), "GB": (53.0, -1.5), "GR": (39.0, 22.0), "HU": (47.2, 19.5), "ID": (-2.0, 118.0),
    "IE": (53.2, -8.0), "IL": (31.0, 35.0), "IN": (21.0, 78.0), "IR": (32.0, 53.0), "IT": (42.8, 12.5),
    "JP": (36.0, 138.0), "KE": (0.0, 38.0), "KR": (36.0, 128.0), "KW": (29.3, 47.6), "KZ": (48.0, 67.0),
    "MA": (32.0, -6.0), "MX": (23.0, -102.0), "MY": (4.0, 102.0), "NG": (9.0, 8.0), "NL": (52.2, 5.3),
    "NO": (61.0, 8.0), "NZ": (-41.0, 174.0), "OM": (21.0, 57.0), "PE": (-9.0, -75.0), "PH": (13.0, 122.0),
    "PK": (30.0, 70.0), "PL": (52.0, 19.0), "PT": (39.5, -8.0), "QA": (25.3, 51.2), "RO": (46.0, 25.0),
    "RU": (56.0, 38.0), "SA": (24.0, 45.0), "SE": (62.0, 15.0), "SG": (1.35, 103.8), "SK": (48.7, 19.7),
    "TH": (15.0, 101.0), "TR": (39.0, 35.0), "TW": (23.7, 121.0), "UA": (49.0, 32.0), "US": (39.0, -98.0),
    "UY": (-33.0, -56.0), "VE": (7.0, -66.0), "VN": (16.0, 108.0), "ZA": (-29.0, 24.0),
}
