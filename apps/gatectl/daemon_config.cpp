#include "daemon_config.hpp"

#include <sys/un.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace gatetwin::gatectl {

namespace fs = std::filesystem;
namespace gr = gatetwin::recognizer;

std::string_view to_string(FailMode m) { return m == FailMode::safe ? "safe" : "secure"; }

namespace {

// Collects "file:line:column: field: message" lines; throws them all at once.
class Errors {
 public:
  explicit Errors(std::string file) : file_(std::move(file)) {}
  void at(const YAML::Node& n, const std::string& field, const std::string& msg) {
    std::ostringstream os;
    os << file_ << ':' << n.Mark().line + 1 << ':' << n.Mark().column + 1 << ": " << field << ": " << msg;
    lines_.push_back(os.str());
  }
  void throw_if_any() const {
    if (lines_.empty()) return;
    std::string all;
    for (const auto& l : lines_) all += l + "\n";
    all += std::to_string(lines_.size()) + " error(s)\n";
    throw ConfigError(all);
  }

 private:
  std::string file_;
  std::vector<std::string> lines_;
};

YAML::Node load_yaml(const fs::path& file, const char* what) {
  try {
    return YAML::LoadFile(file.string());
  } catch (const YAML::BadFile&) {
    throw ConfigError(file.string() + ": cannot read the " + what);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(file.string() + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                      ": " + e.msg);
  }
}

// Reports keys of `map` not in `known` (with the known ones listed, so a misspelling is obvious).
void check_keys(Errors& err, const YAML::Node& map, const std::string& prefix, const std::vector<std::string>& known) {
  for (const auto& kv : map) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    err.at(kv.first, prefix + key, "unknown key (known: " + list + ")");
  }
}

std::optional<std::string> text(Errors& err, const YAML::Node& n, const std::string& field) {
  if (!n.IsScalar() || n.Scalar().empty()) {
    err.at(n, field, "must be a non-empty text");
    return std::nullopt;
  }
  return n.Scalar();
}

std::optional<double> number(Errors& err, const YAML::Node& n, const std::string& field, double lo, double hi) {
  double v = 0;
  if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !std::isfinite(v)) {
    err.at(n, field, "must be a number");
    return std::nullopt;
  }
  if (v < lo || v > hi) {
    std::ostringstream os;
    os << "must be in [" << lo << ", " << hi << "], got " << n.Scalar();
    err.at(n, field, os.str());
    return std::nullopt;
  }
  return v;
}

std::optional<long long> integer(Errors& err, const YAML::Node& n, const std::string& field, long long lo, long long hi) {
  long long v = 0;
  if (!n.IsScalar() || !YAML::convert<long long>::decode(n, v) || v < lo || v > hi) {
    err.at(n, field, "must be a whole number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return std::nullopt;
  }
  return v;
}

std::optional<bool> boolean(Errors& err, const YAML::Node& n, const std::string& field) {
  bool v = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
    err.at(n, field, "must be true or false");
    return std::nullopt;
  }
  return v;
}

// "0.2 s", "200 ms", "5", "1 min": a duration (a bare number is seconds), within [lo, hi] seconds.
std::optional<Millis> duration(Errors& err, const YAML::Node& n, const std::string& field, double lo, double hi) {
  std::ostringstream range;
  range << "must be a duration (a number of seconds, or with a unit: ms, s, min, h) in [" << lo << " s, " << hi << " s]";
  const std::string msg = range.str();
  if (!n.IsScalar()) {
    err.at(n, field, msg);
    return std::nullopt;
  }
  const std::string s = n.Scalar();
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !std::isfinite(v)) {
    err.at(n, field, msg + ", got '" + s + "'");
    return std::nullopt;
  }
  std::string unit(end);
  unit.erase(0, unit.find_first_not_of(' '));
  double scale = 1.0;
  if (unit == "ms") scale = 0.001;
  else if (unit == "min") scale = 60.0;
  else if (unit == "h") scale = 3600.0;
  else if (!unit.empty() && unit != "s") {
    err.at(n, field, msg + ", got '" + s + "'");
    return std::nullopt;
  }
  const double seconds = v * scale;
  if (seconds < lo || seconds > hi) {
    err.at(n, field, msg + ", got '" + s + "'");
    return std::nullopt;
  }
  return Millis(static_cast<std::int64_t>(std::llround(seconds * 1000.0)));
}

// SCHEME://HOST:PORT[/PATH]: the host and port; nullopt with a reason when the text does not fit.
struct HostPort {
  std::string host;
  int port = 0;
  std::string path;
};
std::optional<HostPort> host_port(const std::string& url, const std::string& scheme, std::string& why) {
  const std::string prefix = scheme + "://";
  if (url.rfind(prefix, 0) != 0) {
    why = "must start with " + prefix;
    return std::nullopt;
  }
  std::string rest = url.substr(prefix.size());
  HostPort hp;
  if (const auto slash = rest.find('/'); slash != std::string::npos) {
    hp.path = rest.substr(slash + 1);
    rest.resize(slash);
  }
  std::string port;
  if (!rest.empty() && rest.front() == '[') {  // [IPv6]:port
    const auto close = rest.find(']');
    if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      why = "must be " + prefix + "HOST:PORT";
      return std::nullopt;
    }
    hp.host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string::npos) {
      why = "must be " + prefix + "HOST:PORT (no port given)";
      return std::nullopt;
    }
    hp.host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (hp.host.empty() || port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) < 1 || std::stoi(port) > 65535) {
    why = "must be " + prefix + "HOST:PORT with a port in 1..65535";
    return std::nullopt;
  }
  hp.port = std::stoi(port);
  return hp;
}

std::optional<ModbusEndpoint> modbus_url(Errors& err, const YAML::Node& n, const std::string& field) {
  const auto s = text(err, n, field);
  if (!s) return std::nullopt;
  std::string why;
  const auto hp = host_port(*s, "modbus-tcp", why);
  if (!hp) {
    err.at(n, field, why + "[/UNIT], got '" + *s + "'");
    return std::nullopt;
  }
  ModbusEndpoint e{*s, hp->host, hp->port, 1};
  if (!hp->path.empty()) {
    if (hp->path.size() > 3 || hp->path.find_first_not_of("0123456789") != std::string::npos || std::stoi(hp->path) > 255) {
      err.at(n, field, "the unit id after the port must be 0..255, got '" + hp->path + "'");
      return std::nullopt;
    }
    e.unit = std::stoi(hp->path);
  }
  return e;
}

// A file the config names: must exist (relative to the config's directory).
std::optional<fs::path> existing_file(Errors& err, const YAML::Node& n, const std::string& field, const fs::path& base,
                                      const std::string& hint) {
  const auto s = text(err, n, field);
  if (!s) return std::nullopt;
  fs::path p = fs::path(*s).is_absolute() ? fs::path(*s) : base / *s;
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) {
    err.at(n, field, "no such file: " + p.string() + (hint.empty() ? "" : " (" + hint + ")"));
    return std::nullopt;
  }
  return p;
}

template <typename T>
void set(std::optional<T> v, T& out) {
  if (v) out = *v;
}

LaneConfig load_lane(Errors& err, const YAML::Node& n, const std::string& f) {
  LaneConfig lane;
  lane.line = n.Mark().line + 1;
  if (!n.IsMap()) {
    err.at(n, f, "a lane is a mapping (name, camera, thermal, relay, reader, fail_mode, direction, thermal_spot)");
    return lane;
  }
  check_keys(err, n, f + ".", {"name", "camera", "thermal", "relay", "reader", "fail_mode", "direction", "thermal_spot"});
  for (const char* required : {"name", "camera", "relay"})
    if (!n[required]) err.at(n, f + "." + required, "missing (required)");
  if (n["name"]) set(text(err, n["name"], f + ".name"), lane.name);
  if (n["camera"]) {
    if (const auto s = text(err, n["camera"], f + ".camera")) {
      if (s->rfind("rtsp://", 0) != 0 && s->rfind("http://", 0) != 0 && s->rfind("https://", 0) != 0)
        err.at(n["camera"], f + ".camera", "must be an rtsp://, http:// or https:// URL, got '" + redact_url(*s) + "'");
      lane.camera = *s;
    }
  }
  if (n["thermal"]) lane.thermal = modbus_url(err, n["thermal"], f + ".thermal");
  if (n["relay"]) set(modbus_url(err, n["relay"], f + ".relay"), lane.relay);
  if (n["reader"]) {
    if (const auto s = text(err, n["reader"], f + ".reader")) {
      std::string why;
      if (const auto hp = host_port(*s, "wiegand-tcp", why); hp && hp->path.empty())
        lane.reader = ReaderEndpoint{*s, hp->host, hp->port};
      else
        err.at(n["reader"], f + ".reader", (hp ? "no path after the port: " : why + ", ") + std::string("got '") + *s + "'");
    }
  }
  if (n["fail_mode"]) {
    const auto& m = n["fail_mode"];
    if (m.IsScalar() && m.Scalar() == "secure") lane.fail_mode = FailMode::secure;
    else if (m.IsScalar() && m.Scalar() == "safe") lane.fail_mode = FailMode::safe;
    else err.at(m, f + ".fail_mode", "must be secure or safe");
  }
  if (n["direction"]) {
    const auto& d = n["direction"];
    if (d.IsScalar() && d.Scalar() == "entry") lane.direction = gr::Direction::entry;
    else if (d.IsScalar() && d.Scalar() == "exit") lane.direction = gr::Direction::exit;
    else err.at(d, f + ".direction", "must be entry or exit");
  }
  if (const auto& t = n["thermal_spot"]) {
    const std::string g = f + ".thermal_spot";
    if (!t.IsMap()) {
      err.at(t, g, "a mapping (region, min_distance, max_distance, focal_px)");
    } else {
      check_keys(err, t, g + ".", {"region", "min_distance", "max_distance", "focal_px"});
      if (const auto& r = t["region"]) {
        if (!r.IsSequence() || r.size() != 4) {
          err.at(r, g + ".region", "must be [x, y, width, height] in camera pixels");
        } else {
          std::optional<double> v[4];
          for (std::size_t i = 0; i < 4; ++i) v[i] = number(err, r[i], g + ".region", i < 2 ? 0.0 : 1.0, 10000.0);
          if (v[0] && v[1] && v[2] && v[3]) lane.thermal_spot.region = gr::Box{*v[0], *v[1], *v[2], *v[3]};
        }
      }
      if (t["min_distance"]) set(number(err, t["min_distance"], g + ".min_distance", 0.05, 10.0), lane.thermal_spot.min_distance_m);
      if (t["max_distance"]) set(number(err, t["max_distance"], g + ".max_distance", 0.05, 10.0), lane.thermal_spot.max_distance_m);
      if (t["focal_px"]) set(number(err, t["focal_px"], g + ".focal_px", 10.0, 100000.0), lane.thermal_spot.focal_px);
      if (lane.thermal_spot.min_distance_m >= lane.thermal_spot.max_distance_m)
        err.at(t, g, "min_distance must be below max_distance");
    }
  }
  return lane;
}

}  // namespace

DaemonConfig load_daemon_config(const fs::path& file) {
  const YAML::Node root = load_yaml(file, "gatectl configuration");
  Errors err(file.string());
  DaemonConfig c;
  c.file = file;
  const fs::path base = file.has_parent_path() ? file.parent_path() : fs::path(".");
  if (!root.IsMap()) {
    err.at(root, "(top)", "a gatectl configuration is a YAML mapping (gate, lanes, ...)");
    err.throw_if_any();
  }
  check_keys(err, root, "",
             {"gate", "gallery", "residents", "policy", "manifest", "events", "events_fsync", "status", "reconnect",
              "cooldown", "presence_timeout", "measure_timeout", "camera_open_timeout", "camera_read_timeout",
              "connect_timeout", "modbus_timeout", "health_interval", "lanes"});
  for (const char* required : {"gate", "status", "lanes"})
    if (!root[required]) err.at(root, required, "missing (required)");
  if (root["gate"]) set(text(err, root["gate"], "gate"), c.gate);
  if (root["gallery"]) c.gallery = existing_file(err, root["gallery"], "gallery", base, "create it with gatectl enroll");
  if (root["residents"]) c.residents = existing_file(err, root["residents"], "residents", base, "");
  if (root["policy"]) c.policy = existing_file(err, root["policy"], "policy", base, "");
  if (root["manifest"]) c.manifest = existing_file(err, root["manifest"], "manifest", base, "");
  if (root["events"]) {
    if (const auto s = text(err, root["events"], "events"))
      c.events = *s == "-" ? *s : (fs::path(*s).is_absolute() ? fs::path(*s) : base / *s).string();
  }
  if (root["events_fsync"]) set(boolean(err, root["events_fsync"], "events_fsync"), c.events_fsync);
  if (root["status"]) {
    if (const auto s = text(err, root["status"], "status")) {
      c.status_socket = fs::path(*s).is_absolute() ? fs::path(*s) : base / *s;
      if (c.status_socket.string().size() >= sizeof(sockaddr_un{}.sun_path))
        err.at(root["status"], "status", "the socket path " + c.status_socket.string() + " is longer than a Unix socket allows (" +
                                             std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes)");
    }
  }
  if (const auto& r = root["reconnect"]) {
    if (!r.IsMap()) {
      err.at(r, "reconnect", "a mapping {initial: DURATION, max: DURATION}");
    } else {
      check_keys(err, r, "reconnect.", {"initial", "max"});
      if (r["initial"]) set(duration(err, r["initial"], "reconnect.initial", 0.01, 60.0), c.reconnect.initial);
      if (r["max"]) set(duration(err, r["max"], "reconnect.max", 0.01, 3600.0), c.reconnect.max);
      if (c.reconnect.initial > c.reconnect.max) err.at(r, "reconnect", "initial must not exceed max");
    }
  }
  const auto dur = [&](const char* key, Millis& out, double lo, double hi) {
    if (root[key]) set(duration(err, root[key], key, lo, hi), out);
  };
  dur("cooldown", c.cooldown, 0.0, 3600.0);
  dur("presence_timeout", c.presence_timeout, 0.1, 60.0);
  dur("measure_timeout", c.measure_timeout, 0.0, 60.0);
  dur("camera_open_timeout", c.camera_open_timeout, 0.1, 120.0);
  dur("camera_read_timeout", c.camera_read_timeout, 0.1, 120.0);
  dur("connect_timeout", c.connect_timeout, 0.05, 60.0);
  dur("modbus_timeout", c.modbus_timeout, 0.01, 10.0);
  dur("health_interval", c.health_interval, 0.1, 3600.0);
  if (const auto& ls = root["lanes"]) {
    if (!ls.IsSequence() || ls.size() == 0) {
      err.at(ls, "lanes", "a non-empty list of lanes");
    } else {
      std::set<std::string> names;
      for (std::size_t i = 0; i < ls.size(); ++i) {
        const std::string f = "lanes[" + std::to_string(i) + "]";
        LaneConfig lane = load_lane(err, ls[i], f);
        if (!lane.name.empty() && !names.insert(lane.name).second)
          err.at(ls[i]["name"], f + ".name", "lane '" + lane.name + "' is named twice");
        c.lanes.push_back(std::move(lane));
      }
    }
  }
  err.throw_if_any();
  return c;
}

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

std::string redact_url(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const auto host_start = scheme + 3;
  const auto path = url.find('/', host_start);
  const auto at = url.rfind('@', path == std::string::npos ? std::string::npos : path);
  if (at == std::string::npos || at < host_start) return url;
  const auto colon = url.find(':', host_start);
  if (colon == std::string::npos || colon > at) return url;  // a user name only
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

}  // namespace gatetwin::gatectl
