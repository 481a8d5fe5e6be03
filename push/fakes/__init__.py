"""Fake FCM and WeChat servers that speak the providers' documented wire protocols, so the real
client code runs against them (tests, demos, benchmarks). Start one with
`python -m push.fakes.fcm --port 9101` / `python -m push.fakes.wechat --port 9102`, or in-process
with `running_fake_fcm()` / `running_fake_wechat()`; steer it through `/_fake/` (see `control`)."""
