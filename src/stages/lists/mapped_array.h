// A fixed-size array of trivial values in anonymous memory: zeroed, page aligned (so any node
// size up to a page is aligned to itself), and advised for transparent huge pages when large,
// since lookups touch random places of big arrays and a TLB miss costs as much as a cache miss.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace gh::lists {

template <class T>
class MappedArray {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  MappedArray() = default;
  // Throws std::bad_alloc: only ever called when building, never on a lookup.
  explicit MappedArray(std::size_t n) : size_(n) {
    if (n == 0) return;
    if (n > (std::size_t{1} << 48) / sizeof(T)) throw std::bad_alloc();
    bytes_ = (n * sizeof(T) + 4095) / 4096 * 4096;
    void* mem = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) throw std::bad_alloc();
    if (bytes_ >= (std::size_t{2} << 20)) madvise(mem, bytes_, MADV_HUGEPAGE);
    data_ = static_cast<T*>(mem);
  }
  ~MappedArray() { release(); }
  MappedArray(MappedArray&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        bytes_(std::exchange(o.bytes_, 0)) {}
  MappedArray& operator=(MappedArray&& o) noexcept {
    if (this != &o) {
      release();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  MappedArray(const MappedArray&) = delete;
  MappedArray& operator=(const MappedArray&) = delete;

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  std::size_t size() const noexcept { return size_; }
  std::size_t memory_bytes() const noexcept { return bytes_; }

 private:
  void release() noexcept {
    if (data_ != nullptr) munmap(data_, bytes_);
    data_ = nullptr;
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace gh::lists
