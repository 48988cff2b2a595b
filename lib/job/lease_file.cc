#include "lib/job/lease_file.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "lib/console/patterns.h"

namespace fruix::job {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> Words(std::string_view line) {
  std::vector<std::string> out;
  std::istringstream in{std::string(line)};
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// ISC dhcpd.leases: `lease <ip> { <statements;> }` blocks.
std::optional<LeaseEntry> FindIscLease(std::string_view contents, const std::string& mac) {
  std::optional<LeaseEntry> found;
  size_t pos = 0;
  while ((pos = contents.find("lease ", pos)) != std::string_view::npos) {
    if (pos > 0 && contents[pos - 1] != '\n') {
      pos += 6;
      continue;
    }
    const size_t open = contents.find('{', pos);
    const size_t close = contents.find('}', open == std::string_view::npos ? pos : open);
    if (open == std::string_view::npos || close == std::string_view::npos) break;
    std::string address(contents.substr(pos + 6, open - pos - 6));
    while (!address.empty() && std::isspace(static_cast<unsigned char>(address.back()))) {
      address.pop_back();
    }
    const std::string body = Lower(contents.substr(open + 1, close - open - 1));
    const bool has_mac = body.find("hardware ethernet " + mac + ";") != std::string::npos;
    const size_t state = body.find("binding state ");
    const bool active = state == std::string::npos || body.compare(state + 14, 6, "active") == 0;
    if (has_mac && active && console::IsIpv4HostAddress(address)) {
      found = LeaseEntry{address, std::string(contents.substr(pos, close - pos + 1))};
    }
    pos = close + 1;
  }
  return found;
}

// dnsmasq: `<expiry> <mac> <ip> <hostname> <client-id>` per line ("duid ..." lines skipped).
std::optional<LeaseEntry> FindDnsmasqLease(std::string_view contents, const std::string& mac) {
  std::optional<LeaseEntry> found;
  size_t start = 0;
  while (start < contents.size()) {
    size_t end = contents.find('\n', start);
    if (end == std::string_view::npos) end = contents.size();
    std::string_view line = contents.substr(start, end - start);
    std::vector<std::string> w = Words(line);
    if (w.size() >= 3 && NormalizeMac(w[1]) == mac && console::IsIpv4HostAddress(w[2])) {
      found = LeaseEntry{w[2], std::string(line)};
    }
    start = end + 1;
  }
  return found;
}

}  // namespace

std::string NormalizeMac(std::string_view mac) { return Lower(mac); }

bool IsMacAddress(std::string_view mac) {
  if (mac.size() != 17) return false;
  for (size_t i = 0; i < mac.size(); ++i) {
    if (i % 3 == 2) {
      if (mac[i] != ':') return false;
    } else if (std::isxdigit(static_cast<unsigned char>(mac[i])) == 0) {
      return false;
    }
  }
  return true;
}

Result<std::optional<LeaseEntry>> FindLease(std::string_view contents, std::string_view mac) {
  if (!IsMacAddress(mac)) {
    return Error::InvalidArgument("\"" + std::string(mac) +
                                  "\" is not a MAC address (expected aa:bb:cc:dd:ee:ff)");
  }
  const std::string m = NormalizeMac(mac);
  const bool isc = contents.starts_with("lease ") || contents.find("\nlease ") != std::string::npos;
  return isc ? FindIscLease(contents, m) : FindDnsmasqLease(contents, m);
}

Result<std::optional<LeaseEntry>> LookupLease(const std::string& path, std::string_view mac) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::optional<LeaseEntry>();
    return Error::Io("cannot read lease file " + path + ": " + std::strerror(errno));
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Error::Io("cannot read lease file " + path);
  return FindLease(buf.str(), mac);
}

}  // namespace fruix::job
