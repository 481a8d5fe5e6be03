"""Synthetic devices for `entpage seed` (a step `profiles.seed.seed` runs after people exist):
1–3 devices per person across the app (FCM, Android or iOS) and the WeChat mini-program, and a
one-time subscription credit for some mini-programs. Bulk-loaded in chunks (COPY on
PostgreSQL), so memory stays flat for 600,000 people.

Shape: the first device is the app for 80% of people (Android 65% / iOS 35%), else the
mini-program; each further device is another app installation or, if the person has none yet,
the mini-program. 30% of mini-programs accepted the notice template once.
"""

from __future__ import annotations

import random

from core import clock
from core.bulk import copy_rows, reset_sequence
from core.db import conn, new_sql
from push.config import push_config

CHUNK = 20_000
TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"


def _fcm_token(rng: random.Random, device_id: int) -> str:
    # Real registration tokens are ~160 URL-safe characters: "<instance id>:APA91b<…>".
    tail = "".join(rng.choices(TOKEN_CHARS, k=140))
    return f"d{device_id:09d}:APA91b{tail}"


def _openid(rng: random.Random) -> str:
    return "o" + "".join(rng.choices(TOKEN_CHARS, k=27))


async def seed_devices(rng: random.Random) -> int:
    """Create devices (and some consents) for every person; returns the device count."""
    now = clock.now()
    template = push_config().template_for("notice")
    device_id = 0
    after = 0
    while True:
        sql = new_sql()
        rows = await conn().execute_query_dict(
            f"SELECT id FROM people WHERE id > {sql.p(after)} ORDER BY id LIMIT {sql.p(CHUNK)}",
            sql.params)
        if not rows:
            break
        devices: list[tuple[object, ...]] = []
        consents: list[tuple[object, ...]] = []
        for row in rows:
            person_id = int(row["id"])
            has_miniprogram = False
            for index in range(rng.choice((1, 1, 2, 2, 3))):
                device_id += 1
                app = rng.random() < 0.8 if index == 0 else (has_miniprogram or
                                                             rng.random() < 0.5)
                if app:
                    platform = "android" if rng.random() < 0.65 else "ios"
                    devices.append((device_id, person_id, "fcm", _fcm_token(rng, device_id),
                                    platform, f"inst-{device_id}", "3.2.1", "zh-Hans", True,
                                    now, now, now))
                else:
                    has_miniprogram = True
                    devices.append((device_id, person_id, "wechat", _openid(rng), "miniprogram",
                                    None, None, "zh-Hans", True, now, now, now))
                    if rng.random() < 0.3:
                        consents.append((device_id, template, 1, "accept", 1, 0, now))
        await copy_rows("devices", (
            "id", "person_id", "channel", "token", "platform", "installation_id", "app_version",
            "locale", "active", "last_seen_at", "created_at", "updated_at"), devices)
        await copy_rows("wechat_consents", (
            "device_id", "template_id", "remaining", "status", "accepted_total",
            "consumed_total", "updated_at"), consents)
        after = int(rows[-1]["id"])
    await reset_sequence("devices")
    return device_id
