#include "stages/challenge/sha256.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace gh::challenge {
namespace {

std::string hex(const Digest& d, std::size_t n = 32) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += kHex[d[i] >> 4];
    out += kHex[d[i] & 15];
  }
  return out;
}

std::vector<std::uint8_t> bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

TEST(Sha256, Fips180Vectors) {
  EXPECT_EQ(hex(sha256({})), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(sha256({"abc"})),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string_view two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(hex(sha256({two_blocks})),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // Parts are concatenated, wherever they are cut.
  EXPECT_EQ(sha256({"ab", "", "c"}), sha256({"abc"}));
  EXPECT_EQ(sha256({two_blocks.substr(0, 5), two_blocks.substr(5)}), sha256({two_blocks}));
}

TEST(Sha256Prefix, ResumesFromTheSameStateEveryTime) {
  const std::string_view text = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  for (std::size_t cut = 0; cut <= text.size(); cut += 7) {
    const Sha256Prefix prefix(text.substr(0, cut));
    EXPECT_EQ(prefix.digest(text.substr(cut)), sha256({text})) << cut;
    EXPECT_EQ(prefix.digest(text.substr(cut)), sha256({text})) << cut;  // not spent
    EXPECT_EQ(prefix.digest(std::string_view{}), sha256({text.substr(0, cut)})) << cut;
  }
}

// RFC 4231 section 4: HMAC-SHA-256 test cases 1 to 7.
TEST(HmacSha256, Rfc4231Vectors) {
  struct Case {
    std::vector<std::uint8_t> key;
    std::vector<std::uint8_t> data;
    std::string mac;
  };
  std::vector<std::uint8_t> key4;
  for (std::uint8_t i = 1; i <= 25; ++i) key4.push_back(i);
  const Case cases[] = {
      {std::vector<std::uint8_t>(20, 0x0b), bytes("Hi There"),
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {bytes("Jefe"), bytes("what do ya want for nothing?"),
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {std::vector<std::uint8_t>(20, 0xaa), std::vector<std::uint8_t>(50, 0xdd),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {key4, std::vector<std::uint8_t>(50, 0xcd),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      // Case 5 is truncated to 128 bits.
      {std::vector<std::uint8_t>(20, 0x0c), bytes("Test With Truncation"),
       "a3b6167473100ee06e0c796c2955552b"},
      // Cases 6 and 7: a key longer than a block is hashed first.
      {std::vector<std::uint8_t>(131, 0xaa),
       bytes("Test Using Larger Than Block-Size Key - Hash Key First"),
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {std::vector<std::uint8_t>(131, 0xaa),
       bytes("This is a test using a larger than block-size key and a larger than block-size "
             "data. The key needs to be hashed before being used by the HMAC algorithm."),
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  int n = 0;
  for (const Case& c : cases) {
    ++n;
    const HmacSha256 h(c.key);
    EXPECT_EQ(hex(h.mac(c.data), c.mac.size() / 2), c.mac) << "test case " << n;
    EXPECT_EQ(hex(h.mac(c.data), c.mac.size() / 2), c.mac) << "again, test case " << n;
  }
}

TEST(HmacSha256, OneKeyServesManyThreads) {
  const HmacSha256 h(bytes("Jefe"));
  const std::vector<std::uint8_t> data = bytes("what do ya want for nothing?");
  const Digest want = h.mac(data);
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) wrong[t] += h.mac(data) != want;
    });
  }
  for (auto& t : threads) t.join();
  for (int w : wrong) EXPECT_EQ(w, 0);
}

TEST(LeadingZeroBits, Counts) {
  Digest d{};
  EXPECT_EQ(leading_zero_bits(d), 256u);
  d[31] = 1;
  EXPECT_EQ(leading_zero_bits(d), 255u);
  d[0] = 0x80;
  EXPECT_EQ(leading_zero_bits(d), 0u);
  d[0] = 0x01;
  EXPECT_EQ(leading_zero_bits(d), 7u);
}

}  // namespace
}  // namespace gh::challenge
