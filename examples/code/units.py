"""Small unit helpers for a weather-station dashboard (example code seed for tool use)."""

from __future__ import annotations


def celsius_to_fahrenheit(celsius: float) -> float:
    """Convert a temperature from degrees Celsius to degrees Fahrenheit."""
    return celsius * 9 / 5 + 32


def wind_chill(temperature_c: float, wind_kmh: float) -> float:
    """Felt temperature in Celsius for a given air temperature and wind speed (km/h)."""
    if temperature_c > 10 or wind_kmh < 4.8:
        return temperature_c
    factor = wind_kmh**0.16
    return 13.12 + 0.6215 * temperature_c - 11.37 * factor + 0.3965 * temperature_c * factor


def parse_duration(text: str, default_unit: str = "s") -> int:
    """Parse a duration such as '90s', '15m' or '2h' into seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    text = text.strip().lower()
    if text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(float(text) * units[default_unit])
