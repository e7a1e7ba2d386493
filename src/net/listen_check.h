// Is an address already served? Gatehouse binds its listeners with SO_REUSEPORT (one per
// worker), which the kernel also grants a second process of the same user: two instances would
// start side by side and split the traffic. A bind without SO_REUSEPORT fails against any
// listener on the address (or on a wildcard covering it), so it tells whether someone is there;
// /proc tells who.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "client/address-t.h"

namespace gh::net {

struct ListenerOwner {
  pid_t pid = 0;
  std::string name;  // /proc/<pid>/comm
};

// True when some socket listens on `addr` (port != 0). `owners` gets the processes holding a
// listening socket on that port with an overlapping address, as far as /proc shows them (the
// same user's, or all when root): none found means "someone we cannot see".
bool address_served(const client::SocketAddress& addr, std::vector<ListenerOwner>* owners);

// After binding `addr` with SO_REUSEPORT: true when a listening socket on it is not this
// process's, i.e. another process bound it at the same moment (the probe of address_served()
// passed for both; each then refuses). `owners` as above, without this process.
bool shared_with_another(const client::SocketAddress& addr, std::vector<ListenerOwner>* owners);

// "pid 1234 (gatehouse)", "pids 1234 (gatehouse), 99 (nginx)", or "a process this user cannot
// see" when the list is empty.
std::string describe_owners(const std::vector<ListenerOwner>& owners);

}  // namespace gh::net
