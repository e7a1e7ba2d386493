// The configuration behind `gatehouse proxy --from ADDR --to ADDR`: no file needed.
#pragma once

#include "client/address-t.h"
#include "policy/snapshot.h"

namespace gh::policy {

// One listener (`from`), one upstream "app" (`to`), one catch-all route "default", default limits.
// `workers` 0 = one per core.
SnapshotPtr make_proxy_snapshot(const client::SocketAddress& from, const client::SocketAddress& to,
                                unsigned workers);

}  // namespace gh::policy
