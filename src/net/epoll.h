// The epoll side of EventLoop (server.io: epoll, the default): epoll_wait per pass; each read,
// write, accept4 and close is a syscall of its own, and the loop's eventfd wakes it. Internal to
// net/ (gh_module INTERNAL); the loop's callers see EventLoop only.
#pragma once

#include <memory>

#include "loop_backend.h"

namespace gh::net {

// Aborts when the kernel gives no epoll descriptor: at start-up, nothing sensible to do.
std::unique_ptr<LoopBackend> make_epoll(EventLoop& loop, int wake_fd);

}  // namespace gh::net
