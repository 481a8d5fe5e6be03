"""Outside push providers (FCM, WeChat subscription messages) behind one outcome type."""

from __future__ import annotations

from push.providers.base import PushProvider, SendOutcome, SendStatus

__all__ = ["PushProvider", "SendOutcome", "SendStatus"]
