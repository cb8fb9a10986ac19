#include "scenario_schema.hpp"

#include <limits>
#include <map>

namespace gatetwin::sim::schema {
namespace {

using recognizer::MaskPolicy;
using recognizer::TemperatureMode;
using recognizer::VisitorHandling;
constexpr double kInf = std::numeric_limits<double>::infinity();

// Accessor shorthands: A(expr) is a lambda returning a reference into the scenario `s` (gate index `i`).
using Profile = std::array<double, 24>;

Field make(std::string path, Kind kind, std::string unit, double lo, double hi, std::string doc) {
  Field f;
  f.path = std::move(path);
  f.kind = kind;
  f.unit = std::move(unit);
  f.min = lo;
  f.max = hi;
  f.doc = std::move(doc);
  return f;
}

#define GT_REF(type, expr) [](Scenario & s, std::size_t i) -> type& { (void)i; return expr; }

Field num(std::string path, std::string unit, double lo, double hi, std::string doc,
          std::function<double&(Scenario&, std::size_t)> ref, Kind kind = Kind::number) {
  Field f = make(std::move(path), kind, std::move(unit), lo, hi, std::move(doc));
  f.num_ref = std::move(ref);
  return f;
}
Field share(std::string path, std::string doc, std::function<double&(Scenario&, std::size_t)> ref) {
  return num(std::move(path), "share 0–1", 0.0, 1.0, std::move(doc), std::move(ref), Kind::share);
}
Field secs(std::string path, double lo, double hi, std::string doc, std::function<double&(Scenario&, std::size_t)> ref) {
  return num(std::move(path), "s", lo, hi, std::move(doc), std::move(ref), Kind::seconds);
}
Field celsius(std::string path, double lo, double hi, std::string doc, std::function<double&(Scenario&, std::size_t)> ref) {
  return num(std::move(path), "°C", lo, hi, std::move(doc), std::move(ref), Kind::celsius);
}
Field integer(std::string path, std::string unit, double lo, double hi, std::string doc,
              std::function<int&(Scenario&, std::size_t)> ref) {
  Field f = make(std::move(path), Kind::integer, std::move(unit), lo, hi, std::move(doc));
  f.int_ref = std::move(ref);
  return f;
}
Field boolean(std::string path, std::string doc, std::function<bool&(Scenario&, std::size_t)> ref) {
  Field f = make(std::move(path), Kind::boolean, "", 0, 0, std::move(doc));
  f.bool_ref = std::move(ref);
  return f;
}
Field text(std::string path, std::string doc, std::function<std::string&(Scenario&, std::size_t)> ref) {
  Field f = make(std::move(path), Kind::text, "", 0, 0, std::move(doc));
  f.text_ref = std::move(ref);
  return f;
}
Field optional(std::string path, std::string unit, double lo, double hi, std::string doc,
               std::function<std::optional<double>&(Scenario&, std::size_t)> ref) {
  Field f = make(std::move(path), Kind::optional_number, std::move(unit), lo, hi, std::move(doc));
  f.opt_ref = std::move(ref);
  return f;
}
Field clock(std::string path, std::string doc, std::function<SimTime&(Scenario&, std::size_t)> ref) {
  Field f = make(std::move(path), Kind::clock, "hh:mm", 0, 24 * 3600, std::move(doc));
  f.clock_ref = std::move(ref);
  return f;
}
Field profile(std::string path, std::string doc, std::function<Profile&(Scenario&, std::size_t)> ref) {
  Field f = make(std::move(path), Kind::profile, "24 weights", 0, kInf, std::move(doc));
  f.profile_ref = std::move(ref);
  return f;
}
// A choice between named values, stored through a typed setter/getter pair.
template <typename T>
Field choice(std::string path, std::string doc, std::vector<std::pair<std::string, T>> values,
             std::function<T&(Scenario&, std::size_t)> ref) {
  Field f = make(std::move(path), Kind::choice, "", 0, 0, std::move(doc));
  for (const auto& v : values) f.choices.push_back(v.first);
  f.set_choice = [values, ref](Scenario& s, std::size_t i, const std::string& name) {
    for (const auto& v : values)
      if (v.first == name) ref(s, i) = v.second;
  };
  f.get_choice = [values, ref](const Scenario& s, std::size_t i) {
    const T& cur = ref(const_cast<Scenario&>(s), i);
    for (const auto& v : values)
      if (v.second == cur) return v.first;
    return std::string("?");
  };
  return f;
}
// A lognormal duration as two fields: <path>.mean and <path>.sd.
void dist(std::vector<Field>& out, const std::string& path, const std::string& what,
          std::function<TimeDist&(Scenario&, std::size_t)> ref) {
  out.push_back(secs(path + ".mean", 0.0, 3600.0, "mean " + what, [ref](Scenario& s, std::size_t i) -> double& { return ref(s, i).mean_s; }));
  out.push_back(secs(path + ".sd", 0.0, 3600.0, "standard deviation of " + what + " (lognormal)",
                     [ref](Scenario& s, std::size_t i) -> double& { return ref(s, i).sd_s; }));
}
void score(std::vector<Field>& out, const std::string& path, const std::string& what,
           std::function<ScoreDist&(Scenario&, std::size_t)> ref) {
  out.push_back(num(path + ".mean", "cosine", -1.0, 1.0, "mean score of " + what,
                    [ref](Scenario& s, std::size_t i) -> double& { return ref(s, i).mean; }));
  out.push_back(num(path + ".sd", "cosine", 0.0, 1.0, "standard deviation of " + what,
                    [ref](Scenario& s, std::size_t i) -> double& { return ref(s, i).sd; }));
}

std::vector<Field> build() {
  std::vector<Field> f;
  // --- top level
  f.push_back(text("name", "scenario name, shown in reports", GT_REF(std::string, s.name)));
  f.push_back(text("description", "free text; cite the fact the scenario encodes", GT_REF(std::string, s.description)));
  {
    Field sd = make("seed", Kind::seed, "", 0, 0, "seed of every random stream; a run is a function of the scenario and its seed");
    sd.seed_ref = GT_REF(std::uint64_t, s.seed);
    f.push_back(std::move(sd));
  }
  f.push_back(choice<std::string>("fidelity", "statistical: face outcomes sampled from calibrated distributions (face.*); pixel: every face attempt is rendered and decided by the real core in-process (pixel.*); hil: the emulated devices on loopback sockets and one gatectl process per gate, paced to the wall clock (hil.*, devices.*, pixel.* for the rendered lane)",
                                  {{"statistical", "statistical"}, {"pixel", "pixel"}, {"hil", "hil"}}, GT_REF(std::string, s.fidelity)));
  f.push_back(clock("day.start", "first arrival may occur at this time", GT_REF(SimTime, s.day_start)));
  f.push_back(clock("day.end", "no arrivals after this time; the run goes on until every queue is empty (at most a week: people still queued then are reported as unfinished and fail the run)", GT_REF(SimTime, s.day_end)));
  f.push_back(integer("day.index", "days", 0, 3650, "day number of the run; quarantine and validity windows count from day 0", GT_REF(int, s.day_index)));

  // --- population
  f.push_back(integer("population.households", "households", 1, 1e6, "households in the compound", GT_REF(int, s.population.households)));
  f.push_back(num("population.persons_per_household", "persons", 1.0, 10.0, "mean persons per household (1 + Poisson)", GT_REF(double, s.population.persons_per_household)));
  f.push_back(share("population.face_enrolled_share", "residents enrolled for face entry", GT_REF(double, s.population.face_enrolled_share)));
  f.push_back(share("population.refuse_face_share", "residents who refuse face enrolment; they always hold a card", GT_REF(double, s.population.refuse_face_share)));
  f.push_back(share("population.withdrawn_share", "enrolled residents who withdrew their consent before the day: template deleted, they use a card (privacy.card_access)", GT_REF(double, s.population.withdrawn_share)));
  f.push_back(share("population.card_holder_share", "other residents who also hold an access card", GT_REF(double, s.population.card_holder_share)));
  f.push_back(share("population.mask_always_share", "residents who always wear a mask", GT_REF(double, s.population.mask_always_share)));
  f.push_back(share("population.mask_never_share", "residents who never wear a mask (the rest wear one sometimes)", GT_REF(double, s.population.mask_never_share)));
  f.push_back(share("population.mask_sometimes_probability", "per-trip probability that a 'sometimes' resident wears a mask", GT_REF(double, s.population.mask_sometimes_probability)));
  f.push_back(share("population.mask_below_nose_share", "per-trip probability that a worn mask sits below the nose", GT_REF(double, s.population.mask_below_nose_share)));
  f.push_back(share("population.carries_mask_share", "unmasked residents who have a mask with them (can comply when asked)", GT_REF(double, s.population.carries_mask_share)));
  f.push_back(share("population.fever_prevalence", "residents febrile on the day (core temperature from thermal.core_fever_*)", GT_REF(double, s.population.fever_prevalence)));
  f.push_back(integer("population.quarantined", "persons", 0, 1e6, "residents in home isolation, each until a day drawn in (0, quarantine_days_max]", GT_REF(int, s.population.quarantined)));
  f.push_back(num("population.quarantine_days_max", "days", 0.0, 60.0, "longest remaining isolation", GT_REF(double, s.population.quarantine_days_max)));
  f.push_back(num("population.quarantine_exit_attempts_per_person", "attempts/day", 0.0, 20.0, "exit attempts per isolated resident per day", GT_REF(double, s.population.quarantine_exit_attempts_per_person)));
  f.push_back(num("population.visitors_per_day", "persons/day", 0.0, 1e6, "visitors (not enrolled, registered by staff on entry); their exits are not simulated", GT_REF(double, s.population.visitors_per_day)));
  f.push_back(num("population.revoked_card_attempts_per_day", "attempts/day", 0.0, 1e6, "entries tried with a card the back office revoked (lost, stolen, moved out)", GT_REF(double, s.population.revoked_card_attempts_per_day)));
  f.push_back(num("population.cloned_card_attempts_per_day", "attempts/day", 0.0, 1e6, "entries by outsiders with a clone of a valid resident card", GT_REF(double, s.population.cloned_card_attempts_per_day)));
  f.push_back(num("population.lookalike_attempts_per_day", "attempts/day", 0.0, 1e6, "entries by outsiders who resemble an enrolled resident (scores from face.lookalike)", GT_REF(double, s.population.lookalike_attempts_per_day)));
  f.push_back(share("population.health_code_yellow_share", "residents whose health code is yellow", GT_REF(double, s.population.health_code_yellow_share)));
  f.push_back(share("population.health_code_red_share", "residents whose health code is red", GT_REF(double, s.population.health_code_red_share)));

  // --- arrivals
  f.push_back(num("arrivals.trips_per_resident", "passages/day", 0.0, 50.0, "gate passages per resident per day, entries and exits together", GT_REF(double, s.arrivals.trips_per_resident)));
  f.push_back(choice<std::string>("arrivals.profile", "hourly arrival profile: weekday (morning exit and evening entry peaks), weekend, flat, custom (give entry_profile and exit_profile)",
                                  {{"weekday", "weekday"}, {"weekend", "weekend"}, {"flat", "flat"}, {"custom", "custom"}},
                                  GT_REF(std::string, s.arrivals.profile)));
  f.push_back(profile("arrivals.entry_profile", "relative entry rate per hour 0..23 (custom profile only)", GT_REF(Profile, s.arrivals.entry_profile)));
  f.push_back(profile("arrivals.exit_profile", "relative exit rate per hour 0..23 (custom profile only)", GT_REF(Profile, s.arrivals.exit_profile)));
  f.push_back(num("arrivals.group_size_mean", "persons", 1.0, 10.0, "mean size of a group arriving together (1 + Poisson)", GT_REF(double, s.arrivals.group_size_mean)));
  f.push_back(share("arrivals.tailgating_share", "group followers who walk through behind the leader without checking", GT_REF(double, s.arrivals.tailgating_share)));

  // --- gates (a list)
  f.push_back(text("gates[].name", "gate name (unique)", GT_REF(std::string, s.gates[i].name)));
  f.push_back(text("gates[].compound", "compound the gate belongs to: its residents use only its gates, and its terminals search only its gallery (empty: one compound for the whole scenario)", GT_REF(std::string, s.gates[i].compound)));
  f.push_back(integer("gates[].lanes", "lanes", 1, 64, "lanes (terminals) at this gate", GT_REF(int, s.gates[i].lanes)));
  f.push_back(choice<QueueMode>("gates[].queue", "per_lane: each arrival joins the shortest lane queue; shared: one queue feeds all lanes",
                                {{"per_lane", QueueMode::per_lane}, {"shared", QueueMode::shared}}, GT_REF(QueueMode, s.gates[i].queue)));
  f.push_back(integer("gates[].staff", "persons", 0, 64, "staff on duty for manual checks, registration and secondary temperature checks", GT_REF(int, s.gates[i].staff)));
  f.push_back(num("gates[].traffic_share", "weight", 0.0, 1e6, "relative share of the compound's traffic using this gate", GT_REF(double, s.gates[i].traffic_share)));
  f.push_back(choice<GateDirection>("gates[].direction", "which passages the gate serves",
                                    {{"both", GateDirection::both}, {"entry", GateDirection::entry}, {"exit", GateDirection::exit}},
                                    GT_REF(GateDirection, s.gates[i].direction)));

  // --- service times
  dist(f, "service.walk_up", "time from the head of the queue to standing at the terminal", GT_REF(TimeDist, s.service.walk_up));
  dist(f, "service.presentation", "time to face the camera (per face attempt)", GT_REF(TimeDist, s.service.presentation));
  dist(f, "service.recognition", "recognition latency of the terminal (per face attempt)", GT_REF(TimeDist, s.service.recognition));
  dist(f, "service.temperature", "temperature measurement (per measurement)", GT_REF(TimeDist, s.service.temperature));
  dist(f, "service.door_cycle", "door or turnstile cycle after a grant", GT_REF(TimeDist, s.service.door_cycle));
  dist(f, "service.card", "taking out and swiping a card (per swipe)", GT_REF(TimeDist, s.service.card));
  dist(f, "service.staff_check", "staff manual check: entry permit, registration or hand-held temperature", GT_REF(TimeDist, s.service.staff_check));
  dist(f, "service.mask_adjust", "putting a mask on or pulling it up when asked", GT_REF(TimeDist, s.service.mask_adjust));
  f.push_back(boolean("service.exponential", "theory mode: each transaction takes one exponential time with mean exponential_mean (no retries, no staff); for M/M/c checks", GT_REF(bool, s.service.exponential)));
  f.push_back(secs("service.exponential_mean", 0.01, 3600.0, "mean service time in theory mode", GT_REF(double, s.service.exponential_mean_s)));

  // --- face model (statistical mode)
  f.push_back(text("face.calibration", "calibration file (YAML with the face.* keys below) measured from pixel runs; inline keys override it", GT_REF(std::string, s.face.calibration)));
  score(f, "face.genuine_unmasked", "an enrolled resident against their own template, unmasked", GT_REF(ScoreDist, s.face.genuine_unmasked));
  score(f, "face.genuine_masked", "... wearing a mask", GT_REF(ScoreDist, s.face.genuine_masked));
  score(f, "face.genuine_below_nose", "... with the mask below the nose", GT_REF(ScoreDist, s.face.genuine_below_nose));
  score(f, "face.impostor", "a different person's template (1:N takes the maximum over the gallery)", GT_REF(ScoreDist, s.face.impostor));
  score(f, "face.impostor_masked", "... for a masked probe (mask worn or below the nose); default: the same as face.impostor", GT_REF(ScoreDist, s.face.impostor_masked));
  score(f, "face.lookalike", "a look-alike against the resident they resemble", GT_REF(ScoreDist, s.face.lookalike));
  f.push_back(share("face.genuine_between_person", "share of the genuine-score variance that is the person's own (a resident the core finds hard scores low all day); 0: attempts independent", GT_REF(double, s.face.genuine_between_person)));
  f.push_back(share("face.fta_between_person", "latent correlation of one person's failures to acquire (a face the detector misses is missed again on the retry); 0: independent", GT_REF(double, s.face.fta_between_person)));
  f.push_back(share("face.impostor_between_person", "latent correlation of one person's best impostor scores across attempts, and of a look-alike's scores (a face that resembles someone resembles them all day); 0: independent", GT_REF(double, s.face.impostor_between_person)));
  f.push_back(share("face.fta_unmasked", "failure to acquire per attempt, unmasked (face too small, turned away)", GT_REF(double, s.face.fta_unmasked)));
  f.push_back(share("face.fta_masked", "failure to acquire per attempt, masked", GT_REF(double, s.face.fta_masked)));
  f.push_back(share("face.mask_classifier_accuracy", "probability the core classifies the mask state correctly", GT_REF(double, s.face.mask_classifier_accuracy)));

  // --- pixel fidelity
  f.push_back(text("pixel.models", "model cache directory; empty: $GATETWIN_MODELS or ~/.cache/gatetwin/models (installed by scripts/setup.sh)", GT_REF(std::string, s.pixel.models)));
  f.push_back(text("pixel.manifest", "model manifest (YAML); empty: the shipped models/faceplugin-0.0.1.yaml", GT_REF(std::string, s.pixel.manifest)));
  f.push_back(num("pixel.hfov_deg", "°", 10.0, 120.0, "gate camera horizontal field of view at 640x480 (sets the face size at a distance)", GT_REF(double, s.pixel.hfov_deg)));
  f.push_back(num("pixel.fps", "frames/s", 1.0, 60.0, "gate camera frame rate", GT_REF(double, s.pixel.fps)));
  f.push_back(num("pixel.start_distance_m", "m", 0.3, 5.0, "distance of the first frame of an approach", GT_REF(double, s.pixel.start_distance_m)));
  f.push_back(num("pixel.stop_distance_m", "m", 0.3, 3.0, "where a resident stands at the terminal (retries are captured here)", GT_REF(double, s.pixel.stop_distance_m)));
  f.push_back(num("pixel.walk_speed_mps", "m/s", 0.1, 3.0, "approach speed", GT_REF(double, s.pixel.walk_speed_mps)));
  f.push_back(secs("pixel.dwell", 0.0, 30.0, "frames at the terminal before an attempt with no usable face counts as a failure to acquire", GT_REF(double, s.pixel.dwell_s)));
  f.push_back(num("pixel.nuisance", "", 0.0, 2.0, "pose, lighting and blur range of gate captures: 0 studio, 1 gate conditions, 2 harsh", GT_REF(double, s.pixel.nuisance)));
  f.push_back(num("pixel.enrol_nuisance", "", 0.0, 2.0, "the same for the enrolment photo residents submit through the mini-program", GT_REF(double, s.pixel.enrol_nuisance)));
  f.push_back(share("pixel.lookalike_resemblance", "how closely a look-alike's face copies the resident's: 0 unrelated, 1 identical twin", GT_REF(double, s.pixel.lookalike_resemblance)));
  f.push_back(choice<std::string>("pixel.demographics", "who the residents are: balanced (every skin tone, hair and eye colour equally; for measuring the core across the range) or beijing (a Beijing compound: East Asian residents, light to medium skin tones, black and dark-brown hair, brown eyes, 2% from elsewhere); see docs/scene.md",
                                  {{"balanced", "balanced"}, {"beijing", "beijing"}}, GT_REF(std::string, s.pixel.demographics)));
  f.push_back(share("pixel.adjacent_share", "probability that someone is in view in the adjacent lane during an attempt", GT_REF(double, s.pixel.adjacent_share)));
  f.push_back(integer("pixel.threads", "threads", 1, 64, "threads the models may use", GT_REF(int, s.pixel.threads)));

  // --- thermal
  f.push_back(boolean("thermal.blackbody_reference", "a blackbody reference is installed (noise 0.3 °C instead of 0.5 °C)", GT_REF(bool, s.thermal.blackbody_reference)));
  f.push_back(optional("thermal.noise_sd", "°C", 0.0, 5.0, "sensor noise sd; default 0.3 with a blackbody reference, 0.5 without", GT_REF(std::optional<double>, s.thermal.noise_sd_c)));
  f.push_back(celsius("thermal.bias", -5.0, 5.0, "sensor bias", GT_REF(double, s.thermal.bias_c)));
  f.push_back(celsius("thermal.ambient", -30.0, 45.0, "ambient temperature at the gate", GT_REF(double, s.thermal.ambient_c)));
  f.push_back(celsius("thermal.core_normal_mean", 35.0, 38.0, "mean core temperature of afebrile residents", GT_REF(double, s.thermal.core_normal_mean_c)));
  f.push_back(celsius("thermal.core_normal_sd", 0.0, 2.0, "sd of afebrile core temperature", GT_REF(double, s.thermal.core_normal_sd_c)));
  f.push_back(celsius("thermal.core_fever_mean", 37.3, 42.0, "mean core temperature of febrile residents", GT_REF(double, s.thermal.core_fever_mean_c)));
  f.push_back(celsius("thermal.core_fever_sd", 0.0, 2.0, "sd of febrile core temperature (truncated at 37.3 °C)", GT_REF(double, s.thermal.core_fever_sd_c)));
  f.push_back(celsius("thermal.skin_gradient", 0.0, 5.0, "core minus forehead skin temperature at 22 °C ambient", GT_REF(double, s.thermal.skin_gradient_c)));
  f.push_back(num("thermal.skin_gradient_per_c", "°C/°C", 0.0, 1.0, "extra gradient per °C of ambient below 22 °C", GT_REF(double, s.thermal.skin_gradient_per_c)));
  f.push_back(celsius("thermal.skin_gradient_sd", 0.0, 2.0, "person-to-person sd of the gradient", GT_REF(double, s.thermal.skin_gradient_sd_c)));
  f.push_back(celsius("thermal.handheld_sd", 0.0, 2.0, "sd of the staff's hand-held thermometer in a secondary check", GT_REF(double, s.thermal.handheld_sd_c)));

  // --- card reader and staff
  f.push_back(choice<std::string>("card.format", "Wiegand frame format of the reader", {{"w26", "w26"}, {"w34", "w34"}}, GT_REF(std::string, s.card.format)));
  f.push_back(share("card.read_error", "probability that a swipe arrives with a bit error (rejected by parity)", GT_REF(double, s.card.read_error)));
  f.push_back(share("staff.permit_check_accuracy", "probability that a staff manual check reaches the right decision", GT_REF(double, s.staff.permit_check_accuracy)));

  // --- policy (recognizer::Policy)
  f.push_back(num("policy.threshold_unmasked", "cosine", -1.0, 1.0, "accept an unmasked face at or above this score", GT_REF(double, s.policy.threshold_unmasked)));
  f.push_back(num("policy.threshold_masked", "cosine", -1.0, 1.0, "accept a masked face at or above this score", GT_REF(double, s.policy.threshold_masked)));
  f.push_back(choice<MaskPolicy>("policy.mask", "off: ignore masks; remind: announce a reminder; require: refuse until the mask is worn",
                                 {{"off", MaskPolicy::off}, {"remind", MaskPolicy::remind}, {"require", MaskPolicy::require}}, GT_REF(MaskPolicy, s.policy.mask)));
  f.push_back(celsius("policy.fever_threshold", 35.0, 42.0, "displayed temperature at or above this is abnormal", GT_REF(double, s.policy.fever_threshold_c)));
  f.push_back(celsius("policy.compensation", -5.0, 5.0, "added to the sensor reading to estimate body temperature", GT_REF(double, s.policy.compensation_c)));
  f.push_back(choice<TemperatureMode>("policy.temperature_mode", "measure before identity, after it, only temperature (no identity), or off",
                                      {{"before", TemperatureMode::before_identity}, {"after", TemperatureMode::after_identity},
                                       {"only", TemperatureMode::only}, {"off", TemperatureMode::off}},
                                      GT_REF(TemperatureMode, s.policy.temperature_mode)));
  f.push_back(boolean("policy.open_on_abnormal_temperature", "open the door even when the temperature is abnormal", GT_REF(bool, s.policy.open_on_abnormal_temperature)));
  f.push_back(boolean("policy.remeasure_on_alarm", "measure once more before raising a temperature alarm", GT_REF(bool, s.policy.remeasure_on_alarm)));
  f.push_back(boolean("policy.staff_secondary_check", "refer an abnormal temperature to staff (hand-held re-check) instead of a plain deny", GT_REF(bool, s.policy.staff_secondary_check)));
  f.push_back(integer("policy.max_face_attempts", "attempts", 1, 10, "face captures before the gate falls back to card or staff", GT_REF(int, s.policy.max_face_attempts)));
  f.push_back(boolean("policy.card_allowed", "access cards are accepted (face must never be the only way in)", GT_REF(bool, s.policy.card_allowed)));
  f.push_back(boolean("policy.card_requires_face", "a card must be confirmed by a 1:1 face match with its holder, if the holder has a template (defeats cloned cards; refusers keep plain card access)", GT_REF(bool, s.policy.card_requires_face)));
  f.push_back(choice<VisitorHandling>("policy.visitors", "staff: visitors are registered by staff; deny: visitors are turned away",
                                      {{"staff", VisitorHandling::staff_registration}, {"deny", VisitorHandling::deny}}, GT_REF(VisitorHandling, s.policy.visitors)));
  f.push_back(boolean("policy.quarantine_exit_denied", "residents in isolation may not exit during their window", GT_REF(bool, s.policy.quarantine_exit_denied)));
  f.push_back(boolean("policy.health_code_check", "check the health code; yellow or red is referred to staff", GT_REF(bool, s.policy.health_code_check)));

  // --- expectations
  auto ex = [&f](const std::string& key, const std::string& unit, double hi, const std::string& doc,
                 std::function<std::optional<double>&(Scenario&, std::size_t)> ref) {
    f.push_back(optional("expect." + key, unit, 0.0, hi, doc, std::move(ref)));
  };
  ex("far_max", "share 0–1", 1.0, "decision-level false accept rate must not exceed", GT_REF(std::optional<double>, s.expect.far_max));
  ex("frr_max", "share 0–1", 1.0, "decision-level false reject rate (face, including FTA) must not exceed", GT_REF(std::optional<double>, s.expect.frr_max));
  ex("fta_max", "share 0–1", 1.0, "failure-to-acquire rate per face attempt must not exceed", GT_REF(std::optional<double>, s.expect.fta_max));
  ex("p95_wait_s_max", "s", kInf, "95th percentile of queue wait must not exceed", GT_REF(std::optional<double>, s.expect.p95_wait_s_max));
  ex("mean_wait_s_max", "s", kInf, "mean queue wait must not exceed", GT_REF(std::optional<double>, s.expect.mean_wait_s_max));
  ex("max_wait_s_max", "s", kInf, "longest queue wait must not exceed", GT_REF(std::optional<double>, s.expect.max_wait_s_max));
  ex("throughput_min", "persons/min", kInf, "lane capacity (60 / mean transaction time, lowest gate) must reach at least", GT_REF(std::optional<double>, s.expect.throughput_min));
  ex("fever_sensitivity_min", "share 0–1", 1.0, "share of febrile passages that raise an alarm must reach at least", GT_REF(std::optional<double>, s.expect.fever_sensitivity_min));
  ex("fever_false_alarm_max", "share 0–1", 1.0, "share of afebrile passages that raise an alarm must not exceed", GT_REF(std::optional<double>, s.expect.fever_false_alarm_max));
  ex("unauthorised_entries_max", "passages", kInf, "unauthorised persons who got through (any way, tailgating included) must not exceed", GT_REF(std::optional<double>, s.expect.unauthorised_entries_max));
  ex("staff_interventions_per_hour_max", "1/h", kInf, "staff interventions per hour (per gate, mean over the day) must not exceed", GT_REF(std::optional<double>, s.expect.staff_interventions_per_hour_max));
  ex("passages_min", "passages", kInf, "the run must simulate at least this many passages", GT_REF(std::optional<double>, s.expect.passages_min));
  // --- devices (the emulated hardware of every lane)
  f.push_back(text("devices.address", "address every emulator listens on (loopback by default)", GT_REF(std::string, s.devices.address)));
  f.push_back(integer("devices.base_port", "port", 0, 65000, "0: each emulator takes a free port; N: lane k (counted over all gates from 0) listens on N+10k (camera RTSP), +1 (camera HTTP), +2 (thermal Modbus), +3 (relay Modbus), +4 (card reader)", GT_REF(int, s.devices.base_port)));
  f.push_back(num("devices.camera_fps", "frames/s", 1.0, 60.0, "emulated camera frame rate", GT_REF(double, s.devices.camera_fps)));
  f.push_back(integer("devices.camera_jpeg_quality", "1-100", 1, 100, "JPEG quality of the camera's frames", GT_REF(int, s.devices.camera_jpeg_quality)));
  f.push_back(integer("devices.camera_width", "px", 64, 2040, "camera picture width (a multiple of 16: RTP/JPEG carries 4:2:0 in 16-pixel blocks)", GT_REF(int, s.devices.camera_width)));
  f.push_back(integer("devices.camera_height", "px", 64, 2040, "camera picture height (a multiple of 16)", GT_REF(int, s.devices.camera_height)));
  f.push_back(boolean("devices.camera_auth", "HTTP Digest authentication on the camera's RTSP and HTTP ports, as real cameras ship", GT_REF(bool, s.devices.camera_auth)));
  f.push_back(text("devices.camera_user", "camera user name (with camera_auth)", GT_REF(std::string, s.devices.camera_user)));
  f.push_back(text("devices.camera_password", "camera password (with camera_auth; a simulator's, not a secret)", GT_REF(std::string, s.devices.camera_password)));
  f.push_back(secs("devices.thermal_warmup", 0.0, 7200.0, "thermal sensor warm-up after power-on (the run's start): larger error, status bit 1", GT_REF(double, s.devices.thermal_warmup_s)));
  f.push_back(num("devices.thermal_drift_c_per_h", "°C/h", -10.0, 10.0, "thermal sensor bias drift from power-on (thermal.bias_c and thermal.noise_sd are the sensor's bias and noise)", GT_REF(double, s.devices.thermal_drift_c_per_h)));
  f.push_back(secs("devices.relay_pulse", 0.1, 60.0, "door relay pulse: how long the lock stays released after an open command", GT_REF(double, s.devices.relay_pulse_s)));
  f.push_back(secs("devices.relay_held_open", 1.0, 3600.0, "door open longer than this raises the held-open alarm", GT_REF(double, s.devices.relay_held_open_s)));

  // --- hardware in the loop
  f.push_back(num("hil.speed", "sim s per wall s", 0.1, 10.0, "pacing: simulated seconds per wall second (1 = real time)", GT_REF(double, s.hil.speed)));
  f.push_back(boolean("hil.strict", "fail the run (exit 1) when an event starts more than hil.tolerance late in wall time; otherwise lateness is only reported", GT_REF(bool, s.hil.strict)));
  f.push_back(secs("hil.tolerance", 0.001, 60.0, "lateness (wall time) above which an event counts as late", GT_REF(double, s.hil.tolerance_s)));
  f.push_back(text("hil.gatectl", "the gatectl binary; empty: $GATETWIN_GATECTL, the gatectl built beside gatetwin, or gatectl on PATH", GT_REF(std::string, s.hil.gatectl)));
  f.push_back(choice<std::string>("hil.fail_mode", "what gatectl's lanes do when the relay does not carry out an open: secure (the door stays locked) or safe",
                                  {{"secure", "secure"}, {"safe", "safe"}}, GT_REF(std::string, s.hil.fail_mode)));
  f.push_back(secs("hil.startup_timeout", 1.0, 600.0, "wall time allowed for gatectl to start and report every device of every lane up (or down, when faulty from the start)", GT_REF(double, s.hil.startup_timeout_s)));
  f.push_back(secs("hil.face_timeout", 1.0, 120.0, "a resident offering their face waits this long at the terminal for the door, then swipes a card (if they hold one) or goes to staff", GT_REF(double, s.hil.face_timeout_s)));
  f.push_back(secs("hil.card_timeout", 0.5, 120.0, "after a swipe, the wait for the door before a second swipe (after a misread) or staff", GT_REF(double, s.hil.card_timeout_s)));
  f.push_back(secs("hil.walk_through", 0.0, 10.0, "from the lock's release to the door contact opening as the resident walks through", GT_REF(double, s.hil.walk_through_s)));
  f.push_back(boolean("hil.record_frames", "record a hash of every camera frame with its simulated time in the run's device I/O log", GT_REF(bool, s.hil.record_frames)));

  // --- privacy (GB/T 35273; report.json's compliance section)
  // The names of recognizer::Purpose (enrolment.hpp), the registry gatectl keeps consent in.
  const std::vector<std::string> purposes = {"access", "movement_tracking", "police_linkage", "health_monitoring"};
  f.push_back(boolean("privacy.consent_separate", "biometric consent is asked separately, telling the purpose, method, scope and retention period (GB/T 35273), not folded into a blanket privacy notice", GT_REF(bool, s.privacy.consent_separate)));
  f.push_back(integer("privacy.retention_days", "days", 0, 36500, "retention period stated for face data (templates, access-log face records); 0: none set", GT_REF(int, s.privacy.retention_days)));
  f.push_back(boolean("privacy.raw_images_kept", "captured face images are stored beyond the access decision", GT_REF(bool, s.privacy.raw_images_kept)));
  f.push_back(boolean("privacy.card_access", "residents who do not use face (refused, withdrew, did not consent again) are given a card; false: face is the only automated way in and they go to the staff post for a manual check", GT_REF(bool, s.privacy.card_access)));
  {
    Field pf = make("privacy.purposes", Kind::choice_list, "", 0, 0, "purposes the residents' face data is used for, as consented at enrolment");
    pf.choices = purposes;
    pf.list_ref = GT_REF(std::vector<std::string>, s.privacy.purposes);
    f.push_back(std::move(pf));
  }
  f.push_back(boolean("privacy.reconsent_on_purpose_change", "a new purpose (events[].kind purpose_change) asks every resident using face to consent again; those who do not lose face entry until they do. false: the purpose changes silently (the compliance check fails)", GT_REF(bool, s.privacy.reconsent_on_purpose_change)));
  f.push_back(clock("privacy.events[].at", "when the event happens (between day.start and day.end)", GT_REF(SimTime, s.privacy.events[i].at)));
  f.push_back(choice<std::string>("privacy.events[].kind", "withdrawal: a share of the residents using face withdraw consent (template deleted, card from then on); consent: a share of the residents awaiting re-consent give it (face again); purpose_change: `purpose` is added to the purposes",
                                  {{"withdrawal", "withdrawal"}, {"consent", "consent"}, {"purpose_change", "purpose_change"}}, GT_REF(std::string, s.privacy.events[i].kind)));
  f.push_back(share("privacy.events[].share", "withdrawal: of the residents using face at that time; consent: of the residents awaiting re-consent", GT_REF(double, s.privacy.events[i].share)));
  {
    std::vector<std::pair<std::string, std::string>> values;
    for (const auto& p : purposes) values.emplace_back(p, p);
    f.push_back(choice<std::string>("privacy.events[].purpose", "purpose_change: the new purpose", values, GT_REF(std::string, s.privacy.events[i].purpose)));
  }
  f.push_back(share("privacy.events[].reconsent_share", "purpose_change with privacy.reconsent_on_purpose_change: residents using face who consent to the new purpose (the others use a card until a consent event)", GT_REF(double, s.privacy.events[i].reconsent_share)));

  // --- faults (a list)
  f.push_back(text("faults[].gate", "gate of the faulty device (empty: the first gate)", GT_REF(std::string, s.faults[i].gate)));
  f.push_back(integer("faults[].lane", "lane", 1, 64, "lane of the faulty device, from 1", GT_REF(int, s.faults[i].lane)));
  f.push_back(choice<std::string>("faults[].device", "which device of the lane",
                                  {{"camera", "camera"}, {"thermal", "thermal"}, {"relay", "relay"}, {"reader", "reader"}},
                                  GT_REF(std::string, s.faults[i].device)));
  f.push_back(choice<std::string>("faults[].mode", "off: no answer / disconnect; stuck: frozen picture, stuck reading (value °C) or stuck coil; garbage: corrupt JPEG, Modbus exception (value = code, 0 = 0x04), parity errors; slow: camera fps x value, Modbus replies held delay; delayed: latency delay + jitter; intermittent: each frame / request / swipe lost with probability value; drift: thermal bias grows value °C/h",
                                  {{"off", "off"}, {"stuck", "stuck"}, {"garbage", "garbage"}, {"slow", "slow"}, {"delayed", "delayed"}, {"intermittent", "intermittent"}, {"drift", "drift"}},
                                  GT_REF(std::string, s.faults[i].mode)));
  f.push_back(clock("faults[].start", "when the fault begins", GT_REF(SimTime, s.faults[i].start)));
  f.push_back(secs("faults[].duration", 0.0, 7 * 86400.0, "how long it lasts; 0: to the end of the run", GT_REF(double, s.faults[i].duration_s)));
  f.push_back(num("faults[].value", "", -1e6, 1e6, "the mode's parameter (see mode)", GT_REF(double, s.faults[i].value)));
  f.push_back(secs("faults[].delay", 0.0, 600.0, "added latency (delayed, slow)", GT_REF(double, s.faults[i].delay_s)));
  f.push_back(secs("faults[].jitter", 0.0, 600.0, "delayed: plus a uniform draw in [0, jitter) per message", GT_REF(double, s.faults[i].jitter_s)));
  return f;
}
#undef GT_REF

}  // namespace

const std::vector<Field>& fields() {
  static const std::vector<Field> all = build();
  return all;
}

const Field* find(const std::string& path) {
  static const std::map<std::string, const Field*> index = [] {
    std::map<std::string, const Field*> m;
    for (const auto& fl : fields()) m[fl.path] = &fl;
    return m;
  }();
  const auto it = index.find(path);
  return it == index.end() ? nullptr : it->second;
}

const std::vector<std::pair<std::string, std::string>>& sections() {
  static const std::vector<std::pair<std::string, std::string>> s = {
      {"", "Top level: identity of the run"},
      {"day", "The simulated day"},
      {"population", "Who lives in the compound and who else comes to the gate"},
      {"arrivals", "When people arrive"},
      {"gates", "Gates and lanes (a list; at least one gate)"},
      {"service", "Service-time components (each a lognormal with mean and sd)"},
      {"face", "Statistical face-recognition model (scores are cosine similarities)"},
      {"pixel", "Pixel fidelity: rendered faces and the real core (fidelity: pixel)"},
      {"thermal", "Thermal sensor and body-temperature model"},
      {"card", "Card reader"},
      {"staff", "Staff on duty"},
      {"policy", "The gate policy (recognizer::Policy), the same engine the real core runs"},
      {"devices", "Emulated hardware of every lane (`gatetwin devices`; see docs/devices.md)"},
      {"hil", "Hardware in the loop (fidelity: hil; see docs/hil.md)"},
      {"faults", "Device faults in simulated time (a list; see docs/devices.md)"},
      {"privacy", "Privacy choices and the day's consent events (checked in report.json's `compliance`; see \"Privacy\" above)"},
      {"expect", "Expectations checked after the run (a violation makes `gatetwin run` exit 1)"},
  };
  return s;
}

}  // namespace gatetwin::sim::schema
