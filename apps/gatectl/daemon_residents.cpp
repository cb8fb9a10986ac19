#include <cstdio>
#include <ctime>
#include <map>

#include "daemon_config.hpp"
#include "daemon_yaml.hpp"

namespace gatetwin::gatectl {

namespace fs = std::filesystem;
namespace gr = gatetwin::recognizer;
using namespace yaml_check;

namespace {

template <typename T>
void set(std::optional<T> v, T& out) {
  if (v) out = *v;
}

}  // namespace

std::optional<std::int64_t> parse_date_time(const std::string& s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  int n = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10) return std::nullopt;
  std::string rest = s.substr(10);
  if (!rest.empty()) {
    if (rest[0] != 'T' && rest[0] != ' ') return std::nullopt;
    int m = 0;
    if (std::sscanf(rest.c_str() + 1, "%2d:%2d%n", &h, &mi, &m) != 2 || m != 5) return std::nullopt;
    rest = rest.substr(1 + 5);
    if (rest.size() >= 3 && rest[0] == ':') {
      if (std::sscanf(rest.c_str() + 1, "%2d%n", &sec, &m) != 1 || m != 2) return std::nullopt;
      rest = rest.substr(3);
    }
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  if (rest.empty()) {  // local time
    tm.tm_isdst = -1;
    const std::time_t t = std::mktime(&tm);
    if (t == static_cast<std::time_t>(-1)) return std::nullopt;
    return static_cast<std::int64_t>(t);
  }
  std::int64_t offset = 0;
  if (rest == "Z") {
    offset = 0;
  } else {
    int oh = 0, om = 0, m = 0;
    if ((rest[0] != '+' && rest[0] != '-') || std::sscanf(rest.c_str() + 1, "%2d:%2d%n", &oh, &om, &m) != 2 || m != 5 ||
        oh > 14 || om > 59)
      return std::nullopt;
    offset = (rest[0] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  return static_cast<std::int64_t>(timegm(&tm)) - offset;
}

Residents load_residents(const fs::path& file) {
  const YAML::Node root = load_yaml(file, "residents file");
  Errors err(file.string());
  Residents out;
  if (!root.IsMap()) {
    err.at(root, "(top)", "a residents file is a mapping with residents: and revoked_cards:");
    err.throw_if_any();
  }
  check_keys(err, root, "", {"residents", "revoked_cards"});
  std::map<CardKey, YAML::Node> seen;
  auto card = [&](const YAML::Node& n, const std::string& f, std::uint32_t holder, bool revoked_list) {
    if (!n.IsMap()) return err.at(n, f, "a card is a mapping {facility, number, format}");
    check_keys(err, n, f + ".", revoked_list ? std::vector<std::string>{"facility", "number", "format", "holder"}
                                            : std::vector<std::string>{"facility", "number", "format", "revoked"});
    CardKey key;
    if (const auto& fm = n["format"]) {
      if (fm.IsScalar() && fm.Scalar() == "w26") key.format = CardFormat::w26;
      else if (fm.IsScalar() && fm.Scalar() == "w34") key.format = CardFormat::w34;
      else err.at(fm, f + ".format", "must be w26 or w34");
    }
    const long long max_facility = key.format == CardFormat::w26 ? 255 : 65535;
    if (!n["facility"]) err.at(n, f + ".facility", "missing (required)");
    if (!n["number"]) err.at(n, f + ".number", "missing (required)");
    const auto fac = n["facility"] ? integer(err, n["facility"], f + ".facility", 0, max_facility) : std::nullopt;
    const auto num = n["number"] ? integer(err, n["number"], f + ".number", 0, 65535) : std::nullopt;
    CardRecord rec{holder, revoked_list};
    if (n["revoked"]) set(boolean(err, n["revoked"], f + ".revoked"), rec.revoked);
    if (n["holder"]) {
      if (const auto h = integer(err, n["holder"], f + ".holder", 1, 4294967295LL)) rec.holder = static_cast<std::uint32_t>(*h);
    }
    if (!fac || !num) return;
    key.facility = static_cast<std::uint32_t>(*fac);
    key.number = static_cast<std::uint32_t>(*num);
    if (const auto it = seen.find(key); it != seen.end()) {
      err.at(n, f, "card " + std::to_string(key.facility) + "/" + std::to_string(key.number) + " is already listed at line " +
                       std::to_string(it->second.Mark().line + 1));
      return;
    }
    seen.emplace(key, n);
    out.cards[key] = rec;
  };
  if (const auto& rs = root["residents"]) {
    if (!rs.IsSequence()) err.at(rs, "residents", "a list of residents");
    for (std::size_t i = 0; rs.IsSequence() && i < rs.size(); ++i) {
      const auto& r = rs[i];
      const std::string f = "residents[" + std::to_string(i) + "]";
      if (!r.IsMap()) {
        err.at(r, f, "a resident is a mapping (id, cards, visitor, valid_from, valid_until, quarantine_until, health)");
        continue;
      }
      check_keys(err, r, f + ".", {"id", "cards", "visitor", "valid_from", "valid_until", "quarantine_until", "health"});
      if (!r["id"]) {
        err.at(r, f + ".id", "missing (required)");
        continue;
      }
      const auto id = integer(err, r["id"], f + ".id", 1, 4294967295LL);
      if (!id) continue;
      const auto pid = static_cast<std::uint32_t>(*id);
      if (out.people.count(pid)) {
        err.at(r["id"], f + ".id", "resident " + std::to_string(pid) + " is listed twice");
        continue;
      }
      gr::Rights rights;
      if (r["visitor"]) {
        if (const auto v = boolean(err, r["visitor"], f + ".visitor")) rights.resident = !*v;
      }
      const auto when = [&](const char* key, std::int64_t& dst) {
        if (!r[key]) return;
        const auto t = r[key].IsScalar() ? parse_date_time(r[key].Scalar()) : std::nullopt;
        if (!t) return err.at(r[key], f + "." + key, "must be a date or date-time: 2020-06-01, 2020-06-01T07:30[:00][Z|+08:00]");
        dst = *t;
      };
      when("valid_from", rights.valid_from_s);
      when("valid_until", rights.valid_until_s);
      when("quarantine_until", rights.quarantine_until_s);
      if (const auto& h = r["health"]) {
        if (h.IsScalar() && h.Scalar() == "green") rights.health = gr::HealthCode::green;
        else if (h.IsScalar() && h.Scalar() == "yellow") rights.health = gr::HealthCode::yellow;
        else if (h.IsScalar() && h.Scalar() == "red") rights.health = gr::HealthCode::red;
        else err.at(h, f + ".health", "must be green, yellow or red");
      }
      if (const auto& cs = r["cards"]) {
        if (!cs.IsSequence()) err.at(cs, f + ".cards", "a list of cards {facility, number, format}");
        for (std::size_t k = 0; cs.IsSequence() && k < cs.size(); ++k)
          card(cs[k], f + ".cards[" + std::to_string(k) + "]", pid, false);
      }
      out.people[pid] = rights;
    }
  }
  if (const auto& rc = root["revoked_cards"]) {
    if (!rc.IsSequence()) err.at(rc, "revoked_cards", "a list of cards {facility, number, format, holder}");
    for (std::size_t i = 0; rc.IsSequence() && i < rc.size(); ++i) card(rc[i], "revoked_cards[" + std::to_string(i) + "]", 0, true);
  }
  err.throw_if_any();
  return out;
}

}  // namespace gatetwin::gatectl
