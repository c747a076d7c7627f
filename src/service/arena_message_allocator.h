#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "google/protobuf/arena.h"
#include "grpcpp/support/message_allocator.h"

namespace rerank {

struct ArenaMessageAllocatorOptions {
  // First arena block of a new holder. Later calls size it from experience.
  size_t initial_block_bytes = 32 << 10;
  // A holder keeps one block across calls, grown to what its largest call
  // used, up to this. Bigger calls (thousands of candidates) still work:
  // the arena mallocs extra blocks for them and frees those on Release.
  size_t max_kept_block_bytes = 1 << 20;
  // Holders kept for reuse; more in flight at once are deleted on Release.
  // Bounds the memory kept to about max_pooled * max_kept_block_bytes.
  size_t max_pooled = 64;
};

// A gRPC MessageAllocator that puts a unary call's request and response on
// a protobuf Arena (register it with SetMessageAllocatorFor_<Method>).
//
// Why: with gRPC's default holder every message of a call is its own heap
// object: for a 1000-candidate Rerank that is ~3000 mallocs for the parsed
// request and the response (one RankedItem and one std::string per item)
// and as many frees, which callgrind put at about 60% of the call's
// instructions. On an arena they are pointer bumps, and freeing them all is
// one Reset.
//
// Each holder owns one memory block that it hands to its arena as the
// initial block, and holders are pooled: after the first few calls a call
// of a size seen before allocates nothing from malloc at all. Thread-safe
// (gRPC allocates on one thread and may release on another); the pool is a
// mutex-guarded stack, one uncontended lock per allocate and per release.
// std::mutex for the same ThreadSanitizer reason as ModelStore's.
//
// Must outlive the server it is registered with (gRPC's contract for
// allocators); holders still out when it is destroyed are a caller bug.
template <typename Request, typename Response>
class ArenaMessageAllocator final
    : public grpc::MessageAllocator<Request, Response> {
 public:
  explicit ArenaMessageAllocator(ArenaMessageAllocatorOptions options = {})
      : options_(options) {}
  ArenaMessageAllocator(const ArenaMessageAllocator&) = delete;
  ArenaMessageAllocator& operator=(const ArenaMessageAllocator&) = delete;
  ~ArenaMessageAllocator() override {
    for (Holder* holder : free_) delete holder;
  }

  grpc::MessageHolder<Request, Response>* AllocateMessages() override {
    Holder* holder = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_.empty()) {
        holder = free_.back();
        free_.pop_back();
      }
    }
    if (holder == nullptr) {
      holder = new Holder(this, options_.initial_block_bytes);
    }
    holder->Start();
    return holder;
  }

  // Holders waiting in the pool (for tests and metrics).
  size_t pooled() const {
    std::lock_guard<std::mutex> lock(mu_);
    return free_.size();
  }
  // Bytes of the blocks they keep (at most max_pooled *
  // max_kept_block_bytes).
  size_t pooled_bytes() const {
    std::lock_guard<std::mutex> lock(mu_);
    size_t bytes = 0;
    for (const Holder* holder : free_) bytes += holder->block_bytes();
    return bytes;
  }

 private:
  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    Holder(ArenaMessageAllocator* owner, size_t block_bytes) : owner_(owner) {
      Resize(block_bytes);
    }

    // A new Arena per call, on the thread that parses the request: an
    // arena serves the kept (initial) block only to the thread that created
    // it, and gRPC may release a call on another thread than the next one
    // it allocates on, so Reset-and-reuse would malloc a fresh block for
    // every call that changed threads. Constructing one over the kept block
    // costs a few dozen instructions.
    void Start() {
      google::protobuf::ArenaOptions options;
      options.initial_block = block_.get();
      options.initial_block_size = block_bytes_;
      // Fewer, larger extra blocks when a call outgrows the kept one.
      options.max_block_size = 64 << 10;
      arena_.emplace(options);
      this->set_request(
          google::protobuf::Arena::CreateMessage<Request>(&*arena_));
      this->set_response(
          google::protobuf::Arena::CreateMessage<Response>(&*arena_));
    }

    size_t block_bytes() const { return block_bytes_; }

    void Release() override {
      // Destroying the arena runs the few registered destructors (strings
      // too long for the inline buffer) and frees any extra blocks; the
      // kept block is ours and stays.
      const uint64_t allocated = arena_->SpaceAllocated();
      arena_.reset();
      if (allocated > block_bytes_ &&
          block_bytes_ < owner_->options_.max_kept_block_bytes) {
        // Outgrown: next time make the whole call fit in the kept block.
        Resize(std::min<size_t>(owner_->options_.max_kept_block_bytes,
                                RoundUp(static_cast<size_t>(allocated))));
      }
      owner_->Recycle(this);
    }

   private:
    static size_t RoundUp(size_t n) {
      constexpr size_t kPage = 4096;
      return (n + kPage - 1) / kPage * kPage;
    }
    void Resize(size_t bytes) {
      block_.reset(new char[bytes]);
      block_bytes_ = bytes;
    }

    ArenaMessageAllocator* const owner_;
    std::unique_ptr<char[]> block_;
    size_t block_bytes_ = 0;
    // Declared after block_: destroyed before the block it points into.
    std::optional<google::protobuf::Arena> arena_;
  };

  void Recycle(Holder* holder) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (free_.size() < options_.max_pooled) {
        free_.push_back(holder);
        return;
      }
    }
    delete holder;
  }

  const ArenaMessageAllocatorOptions options_;
  mutable std::mutex mu_;
  std::vector<Holder*> free_;  // guarded by mu_; LIFO keeps blocks warm
};

}  // namespace rerank
