#include "daemon_config.hpp"

#include <sys/un.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "daemon_yaml.hpp"

namespace gatetwin::gatectl {

namespace fs = std::filesystem;
namespace gr = gatetwin::recognizer;
using namespace yaml_check;

std::string_view to_string(FailMode m) { return m == FailMode::safe ? "safe" : "secure"; }

namespace {

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
             {"gate", "gallery", "registry", "registry_key", "purposes", "consent_refresh", "retention_check", "residents", "policy", "manifest", "events", "events_fsync", "status", "reconnect",
              "cooldown", "presence_timeout", "measure_timeout", "camera_open_timeout", "camera_read_timeout",
              "connect_timeout", "modbus_timeout", "health_interval", "lanes"});
  for (const char* required : {"gate", "status", "lanes"})
    if (!root[required]) err.at(root, required, "missing (required)");
  if (root["gate"]) set(text(err, root["gate"], "gate"), c.gate);
  if (root["gallery"]) c.gallery = existing_file(err, root["gallery"], "gallery", base, "create it with gatectl enroll");
  if (const auto& r = root["registry"]) {
    if (const auto s = text(err, r, "registry")) {
      const fs::path p = fs::path(*s).is_absolute() ? fs::path(*s) : base / *s;
      std::error_code ec;
      if (!fs::is_directory(p, ec)) err.at(r, "registry", "no such directory: " + p.string() + " (create it with gatectl registry init)");
      else c.registry = p;
    }
    if (root["gallery"]) err.at(r, "registry", "give gallery (a plain development gallery) or registry, not both");
  }
  if (root["registry_key"]) c.registry_key = existing_file(err, root["registry_key"], "registry_key", base, "");
  if (const auto& ps = root["purposes"]) {
    if (!ps.IsSequence() || ps.size() == 0) {
      err.at(ps, "purposes", "a non-empty list of purposes (access, movement_tracking, police_linkage, health_monitoring)");
    } else {
      c.purposes.clear();
      for (std::size_t i = 0; i < ps.size(); ++i) {
        const std::string f = "purposes[" + std::to_string(i) + "]";
        const auto name = text(err, ps[i], f);
        const auto p = name ? recognizer::parse_purpose(*name) : std::nullopt;
        if (name && !p) err.at(ps[i], f, "unknown purpose '" + *name + "' (access, movement_tracking, police_linkage, health_monitoring)");
        else if (p && std::find(c.purposes.begin(), c.purposes.end(), *p) == c.purposes.end()) c.purposes.push_back(*p);
      }
    }
    if (!root["registry"]) err.at(ps, "purposes", "purposes need a registry (consent is recorded there)");
  }
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
  dur("consent_refresh", c.consent_refresh, 0.1, 3600.0);
  dur("retention_check", c.retention_check, 1.0, 86400.0 * 7);
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
