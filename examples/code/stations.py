"""A registry of weather stations and their readings (example code seed for tool use)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Reading:
    station_id: str
    temperature_c: float
    humidity: float


@dataclass
class StationRegistry:
    """Weather stations by id, with the readings each has reported."""

    readings: dict[str, list[Reading]] = field(default_factory=dict)

    def add_station(self, station_id: str) -> None:
        """Register a new station; registering it twice changes nothing."""
        self.readings.setdefault(station_id, [])

    def record(self, station_id: str, temperature_c: float, humidity: float) -> Reading:
        """Store one reading from a registered station and return it."""
        reading = Reading(station_id, temperature_c, humidity)
        self.readings[station_id].append(reading)
        return reading

    def average_temperature(self, station_id: str, last: int = 24) -> float:
        """Mean temperature in Celsius over a station's last `last` readings."""
        recent = self.readings[station_id][-last:]
        return sum(r.temperature_c for r in recent) / len(recent)


def find_stations_above(registry: StationRegistry, threshold_c: float) -> list[str]:
    """Ids of the stations whose latest reading is warmer than threshold_c."""
    return [sid for sid, rs in registry.readings.items() if rs and rs[-1].temperature_c > threshold_c]
