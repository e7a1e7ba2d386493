// Fixed-capacity byte buffers handed out by a per-worker pool, so the steady state allocates
// nothing: a connection borrows buffers while it has bytes in flight and returns them when idle.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace gh::core {

class Buffer {
 public:
  explicit Buffer(std::size_t capacity) : data_(new char[capacity]), capacity_(capacity) {}

  std::size_t capacity() const { return capacity_; }
  std::size_t readable() const { return end_ - begin_; }
  std::size_t writable() const { return capacity_ - end_; }
  bool empty() const { return begin_ == end_; }
  std::string_view view() const { return {data_.get() + begin_, end_ - begin_}; }
  const char* read_ptr() const { return data_.get() + begin_; }
  char* write_ptr() { return data_.get() + end_; }

  void consume(std::size_t n) {
    begin_ += n;
    consumed_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  void commit(std::size_t n) {
    end_ += n;
    added_ += n;
  }
  void clear() {
    begin_ = end_ = 0;
    added_ = consumed_ = 0;
  }
  // Bytes added (commit, append) and consumed since the buffer was acquired or cleared: what
  // one exchange read or wrote is the difference between two readings (the access log).
  std::uint64_t added_total() const { return added_; }
  std::uint64_t consumed_total() const { return consumed_; }

  // Moves unread bytes to the front so the tail has room (a head must be contiguous).
  void compact() {
    if (begin_ == 0) return;
    std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  // Appends as much of `s` as fits; returns the number of bytes copied.
  std::size_t append(std::string_view s) {
    std::size_t n = s.size() < writable() ? s.size() : writable();
    if (n == 0) return 0;  // an empty view may have a null data(): memcpy must not see it
    std::memcpy(write_ptr(), s.data(), n);
    end_ += n;
    added_ += n;
    return n;
  }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::uint64_t added_ = 0;
  std::uint64_t consumed_ = 0;
};

// Not thread-safe: one pool per worker. Buffers are allocated on first demand and recycled;
// a buffer size change (reload) lets old-sized buffers drain away as they are released.
class BufferPool {
 public:
  explicit BufferPool(std::size_t buffer_size) : size_(buffer_size) {}
  ~BufferPool() {
    for (Buffer* b : free_) delete b;
  }
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  Buffer* acquire() {
    ++outstanding_;
    if (!free_.empty()) {
      Buffer* b = free_.back();
      free_.pop_back();
      return b;
    }
    return new Buffer(size_);
  }
  void release(Buffer* b) {
    if (b == nullptr) return;
    --outstanding_;
    b->clear();
    if (b->capacity() != size_ || free_.size() >= kMaxFree) {
      delete b;
      return;
    }
    free_.push_back(b);
  }
  void set_buffer_size(std::size_t size) { size_ = size; }
  std::size_t buffer_size() const { return size_; }
  std::size_t outstanding() const { return outstanding_; }

 private:
  static constexpr std::size_t kMaxFree = 4096;  // idle memory cap per worker
  std::size_t size_;
  std::size_t outstanding_ = 0;
  std::vector<Buffer*> free_;
};

}  // namespace gh::core
