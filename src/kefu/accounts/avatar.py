"""在线客服头像: an image's bytes as WeCom takes them (PNG or JPEG, ≤ 2 MB), and its upload."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from kefu.errors import Invalid
from kefu.wecom.client import WeComClient

AVATAR_MAX_BYTES = 2 << 20  # an image media (wecom-kf-api.md §8.7)
_IMAGE_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


@dataclass(frozen=True)
class Avatar:
    """在线客服头像: an image's bytes, and the file they came from (kept for config export)."""

    content: bytes
    filename: str
    path: str | None = None  # None: bytes given directly (API) or the shipped default

    def __post_init__(self) -> None:
        if len(self.content) > AVATAR_MAX_BYTES:
            raise Invalid(
                f"the avatar {self.filename} is larger than 2 MB (WeCom's limit for an image)",
                "avatar_too_large",
                {"filename": self.filename},
            )
        if self.content_type is None:
            raise Invalid(
                f"the avatar {self.filename} must be a PNG or JPEG image",
                "avatar_not_image",
                {"filename": self.filename},
            )

    @property
    def content_type(self) -> str | None:
        return next((t for magic, t in _IMAGE_TYPES.items() if self.content.startswith(magic)), None)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @classmethod
    def from_file(cls, path: str | Path) -> Avatar:
        file = Path(path).expanduser().resolve()
        try:
            content = file.read_bytes()
        except OSError as exc:
            raise Invalid(f"cannot read the avatar {file}: {exc.strerror or exc}") from exc
        return cls(content=content, filename=file.name, path=str(file))

    @classmethod
    def default(cls) -> Avatar:
        """The avatar of an account created without one (a small PNG shipped with Kefu)."""
        content = resources.files("kefu.accounts").joinpath("data/default_avatar.png").read_bytes()
        return cls(content=content, filename="kefu-avatar.png")


async def upload_avatar(client: WeComClient, avatar: Avatar) -> str:
    """`media/upload` (type image): the media_id kf/account/add|update take (valid 3 days)."""
    assert avatar.content_type is not None  # checked when the Avatar was made
    return await client.media_upload(
        media_type="image", filename=avatar.filename, content=avatar.content, content_type=avatar.content_type
    )
