#pragma once
// GET and HEAD /blobs/{key}: how mando serves the blobs of its local backend, the URLs Discord
// embeds point at.
//
//   - 200 with Content-Type, Content-Length, ETag, Last-Modified, Accept-Ranges and
//     Cache-Control up to the blob's expiry ("public, max-age=N", or "private" when URLs are
//     signed: a shared cache must not hand a signed URL's bytes to others);
//   - 304 when If-None-Match names the ETag, or (without If-None-Match) If-Modified-Since is not
//     older than Last-Modified (RFC 9110 §13.1);
//   - 206 with Content-Range for one byte range ("bytes=0-99", "bytes=100-", "bytes=-100"), 416
//     with "Content-Range: bytes */SIZE" when it starts past the end; If-Range that does not
//     match turns a Range request back into a 200; several ranges get the whole blob (a server
//     may ignore Range);
//   - 404 for a missing or expired blob or a bad key, 403 for a missing, wrong or expired URL
//     signature when signing is on.

#include <boost/asio/awaitable.hpp>

#include "net/http_message.hpp"
#include "net/router.hpp"
#include "storage/blob_store.hpp"
#include "storage/url_signer.hpp"

namespace mando::storage {

// The answer to a GET of `object` (expiring at `expires`) for `request`, from its conditional and
// Range headers. A plain function of its inputs: tests call it directly.
net::Response blob_response(const net::Request& request, Object object, TimePoint now,
                            TimePoint expires, bool signed_urls);

// Registers GET (and so HEAD) /blobs/* on `router`. `store` and `signer` (null: plain URLs) must
// outlive the router.
void add_blob_routes(net::Router& router, BlobStore& store, const UrlSigner* signer);

}  // namespace mando::storage
