"""How the console reads a POSTed form: every text in it UTF-8, or a refusal before any handler
writes.

Starlette decodes what is not UTF-8 without a word: a url-encoded field's bad percent-escape
became U+FFFD, its raw bytes (what `curl -d` sends) Latin-1, and a multipart field in another
encoding Latin-1 — each stored so. Here a url-encoded body is read as the HTML standard reads
it (split on "&", "+" as a space, percent-decoded to bytes, then UTF-8), and a multipart text
field is decoded strictly; one that is not UTF-8 is `FormUndecodable` (a 400 page). Uploaded
files stay bytes: each import decodes its own (kefu.ai.kb_csv.decode_csv_bytes). Starlette's
limits hold for both kinds: at most 1,000 fields, a text field at most 1 MB (`FormUnreadable`).

Starlette spools each uploaded file to a temporary file, and closes it only when it parsed the
form itself (`request.form()`): here each is closed explicitly — one the handler did not ask
for as soon as the form is read, the one it asked for when `take_upload` has read it — not left
to the garbage collector (a file descriptor held, a ResourceWarning)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from fastapi import Request
from python_multipart.multipart import parse_options_header
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

MAX_FIELDS = 1000  # Starlette's defaults, kept for the url-encoded forms read here
MAX_FIELD_BYTES = 1024 * 1024


class FormUnreadable(Exception):
    """A POSTed form past Starlette's limits (a field over 1 MB, too many fields) or malformed:
    Starlette answered with a bare JSON 400 where the console shows its own page."""


class FormUndecodable(Exception):
    """A field of a POSTed form is not UTF-8 text."""


async def read_form(request: Request, *, files: Collection[str] = ()) -> FormData:
    """The request's form, its text decoded as UTF-8: FormUndecodable or FormUnreadable else.
    An uploaded file not named in `files` is closed at once; the caller reads (and closes) the
    named ones with `take_upload`."""
    content_type, _ = parse_options_header(request.headers.get("content-type"))
    if content_type == b"application/x-www-form-urlencoded":
        return _urlencoded(await request.body())
    if content_type == b"multipart/form-data":
        parser = _StrictMultiPartParser(
            request.headers,
            request.stream(),
            max_files=MAX_FIELDS,
            max_fields=MAX_FIELDS,
            max_part_size=MAX_FIELD_BYTES,
        )
        try:
            data = await parser.parse()
        except MultiPartException as exc:
            raise FormUnreadable from exc
        for name, value in data.multi_items():
            if isinstance(value, UploadFile) and name not in files:
                await value.close()
        return data
    return FormData()


@dataclass(frozen=True)
class Upload:
    """An uploaded file read into memory (its temporary file closed)."""

    filename: str
    content: bytes


async def take_upload(data: FormData, name: str) -> Upload | None:
    """The file uploaded as `name` (the last one if several; None when there is none), every
    temporary file under that name closed."""
    uploads = [value for value in data.getlist(name) if isinstance(value, UploadFile)]
    try:
        if not uploads:
            return None
        return Upload(uploads[-1].filename or "", await uploads[-1].read())
    finally:
        for upload in uploads:
            await upload.close()


def _urlencoded(body: bytes) -> FormData:
    fields = [field for field in body.split(b"&") if field]
    if len(fields) > MAX_FIELDS:
        raise FormUnreadable
    items: list[tuple[str, str | UploadFile]] = []
    for field in fields:
        if len(field) > MAX_FIELD_BYTES:
            raise FormUnreadable
        name, _, value = field.partition(b"=")
        items.append((_text(name), _text(value)))
    return FormData(items)


def _text(encoded: bytes) -> str:
    try:
        return unquote_to_bytes(encoded.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise FormUndecodable from None


class _StrictMultiPartParser(MultiPartParser):
    """Starlette's multipart parser, but a text field (not a file) in another encoding than the
    form's (UTF-8 unless its Content-Type names one) is refused instead of read as Latin-1."""

    def on_part_end(self) -> None:
        part = self._current_part
        if part.file is None:
            try:
                part.data.decode(self._charset)
            except UnicodeDecodeError:
                raise FormUndecodable from None
        super().on_part_end()
