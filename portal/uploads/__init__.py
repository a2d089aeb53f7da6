"""Photos and videos on a customer's remark: what we take, how it is stored and checked.

Two ways in, one set of rules:

- Through Django (the embedded default, and any browser without JavaScript):
  `storing.store_upload` looks at the file's first bytes and its size, then stores it.
  Django has already streamed the upload to a temporary file; nothing here reads a
  whole file.
- Straight to S3: `s3.presign_upload` gives the browser a presigned POST whose
  conditions fix the object key, its Content-Type and the size range, so the store
  itself refuses anything else; `s3.complete_upload` then checks what arrived.

Either way the attachment waits in CHECKING until `processing.process_attachment` (run
by a Celery task) has checked it; only then is it READY, and shown to staff.

One module a concern:

- `media`: what a file is, by its first bytes (`sniff`), and how large it may be
  (`limit_for`, `max_photo_pixels`);
- `refusals`: why a file is refused, in the customer's words (`UploadRejected`, the
  reasons kept on a rejected file);
- `storing`: a file's place on a draft remark within the limits, and its bytes in the
  store (`reserve`, `store_upload`, `arrived`);
- `s3`: the presigned POST and the look at what arrived;
- `removing`: the customer takes a file off a draft remark;
- `processing`: the background check, and the sweep for checks that were lost.
"""
