// Mask state (none / worn / below the nose) from the aligned face crop. No registry model does this, so
// the classifier is built here: hand-made colour and texture features of the lower face, compared with
// the face's own skin above any mask line, and a multinomial logistic model on top, trained on labelled
// renders by `gatetwin train-mask`. Region coordinates assume the ArcFace 112x112 layout (eyes at y~52,
// nose tip at y~72, mouth at y~92); other crop sizes are scaled.
#include <algorithm>
#include <cmath>
#include <fstream>

#include <opencv2/imgproc.hpp>
#include <yaml-cpp/yaml.h>

#include "gatetwin/recognizer/vision/stages.hpp"

namespace gatetwin::recognizer::vision {
namespace {

struct Region {
  int x0, y0, x1, y1;  // in 112x112 template pixels, half-open
};
// The reference: forehead and the bridge between the eyes, above any mask.
constexpr Region kForehead{38, 16, 74, 34};
constexpr Region kBridge{50, 40, 62, 54};
// The regions a mask covers (or not).
constexpr std::array<Region, 5> kTested{{
    {47, 62, 65, 78},   // nose
    {40, 84, 72, 100},  // mouth
    {42, 101, 70, 111}, // chin
    {16, 68, 36, 92},   // left cheek
    {76, 68, 96, 92},   // right cheek
}};

cv::Rect scaled(const Region& r, cv::Size size) {
  const double sx = size.width / 112.0, sy = size.height / 112.0;
  cv::Rect rect(static_cast<int>(r.x0 * sx), static_cast<int>(r.y0 * sy), std::max(1, static_cast<int>((r.x1 - r.x0) * sx)),
                std::max(1, static_cast<int>((r.y1 - r.y0) * sy)));
  return rect & cv::Rect(0, 0, size.width, size.height);
}

}  // namespace

MaskClassifier::Features MaskClassifier::features(const cv::Mat& aligned_bgr) {
  Features f{};
  if (aligned_bgr.empty() || aligned_bgr.type() != CV_8UC3) return f;
  cv::Mat lab_u8, lab, grey, gx, gy, grad;
  cv::cvtColor(aligned_bgr, lab_u8, cv::COLOR_BGR2Lab);
  lab_u8.convertTo(lab, CV_32FC3);
  cv::cvtColor(aligned_bgr, grey, cv::COLOR_BGR2GRAY);
  cv::Sobel(grey, gx, CV_32F, 1, 0);
  cv::Sobel(grey, gy, CV_32F, 0, 1);
  cv::magnitude(gx, gy, grad);

  // Reference skin colour: the per-channel median of forehead and bridge pixels (robust to a fringe).
  std::array<std::vector<float>, 3> ref_px;
  for (const Region& r : {kForehead, kBridge}) {
    const cv::Rect rect = scaled(r, lab.size());
    for (int y = rect.y; y < rect.y + rect.height; ++y)
      for (int x = rect.x; x < rect.x + rect.width; ++x) {
        const auto& p = lab.at<cv::Vec3f>(y, x);
        for (int c = 0; c < 3; ++c) ref_px[static_cast<std::size_t>(c)].push_back(p[c]);
      }
  }
  cv::Vec3f ref;
  for (int c = 0; c < 3; ++c) {
    auto& v = ref_px[static_cast<std::size_t>(c)];
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    ref[c] = v[v.size() / 2];
  }
  // Mean colour distance from the reference and share of skin-coloured pixels (same hue and saturation as
  // the reference, whatever the shading) over a rectangle.
  const cv::Size size = lab.size();
  auto skin_stats = [&](cv::Rect rect) -> std::pair<double, double> {
    rect &= cv::Rect(0, 0, size.width, size.height);
    double de = 0, skin = 0;
    for (int y = rect.y; y < rect.y + rect.height; ++y)
      for (int x = rect.x; x < rect.x + rect.width; ++x) {
        const auto& p = lab.at<cv::Vec3f>(y, x);
        const double dl = p[0] - ref[0], da = p[1] - ref[1], db = p[2] - ref[2];
        de += std::sqrt(dl * dl + da * da + db * db);
        if (std::sqrt(da * da + db * db) < 10.0) skin += 1;
      }
    const double n = static_cast<double>(rect.area());
    return n > 0 ? std::pair{de / n, skin / n} : std::pair{0.0, 0.0};
  };
  // Where the mask line is: eight horizontal bands from just below the eyes to the chin, across the face's
  // centre. Bands tolerate the alignment error masks cause (the landmarks are less sure under a mask).
  const double sx = size.width / 112.0, sy = size.height / 112.0;
  for (std::size_t b = 0; b < 8; ++b) {
    const double band = static_cast<double>(b);
    const int y0 = static_cast<int>((56 + 7 * band) * sy), y1 = std::max(y0 + 1, static_cast<int>((63 + 7 * band) * sy));
    const int x0 = static_cast<int>(30 * sx), x1 = static_cast<int>(82 * sx);
    const auto [de, skin] = skin_stats(cv::Rect(x0, y0, x1 - x0, y1 - y0));
    f[b] = static_cast<float>(skin);
    f[8 + b] = static_cast<float>(de);
  }
  // Texture of the nose, mouth and chin regions (fabric is smoother than a mouth and nostrils), and the
  // lightness spread of the mouth region.
  for (std::size_t i = 0; i < 3; ++i) {
    const cv::Rect rect = scaled(kTested[i], size);
    f[16 + i] = static_cast<float>(cv::mean(grad(rect))[0] / 16.0);
  }
  {
    cv::Scalar mu, sd;
    std::vector<cv::Mat> ch;
    cv::split(lab(scaled(kTested[1], size)), ch);
    cv::meanStdDev(ch[0], mu, sd);
    f[19] = static_cast<float>(sd[0]);
  }
  // Per region (nose, mouth, chin, both cheeks): colour distance from the reference and skin share.
  for (std::size_t i = 0; i < kTested.size(); ++i) {
    const auto [de, skin] = skin_stats(scaled(kTested[i], size));
    f[20 + 2 * i] = static_cast<float>(de);
    f[21 + 2 * i] = static_cast<float>(skin);
  }
  // Colour of the mouth region relative to the reference in a and b (masks are blue, white, black, patterned).
  {
    const cv::Scalar m = cv::mean(lab(scaled(kTested[1], size)));
    f[30] = static_cast<float>(m[1] - ref[1]);
    f[31] = static_cast<float>(m[2] - ref[2]);
  }
  return f;
}

MaskResult MaskClassifier::classify(const Features& f) const {
  MaskResult r;
  if (!trained_) return r;
  std::array<double, 3> z{};
  for (std::size_t k = 0; k < 3; ++k) {
    double s = model_.weights[k][kFeatures];
    for (std::size_t j = 0; j < static_cast<std::size_t>(kFeatures); ++j)
      s += model_.weights[k][j] * (f[j] - model_.mean[j]) / model_.stdev[j];
    z[k] = s;
  }
  const double mx = std::max({z[0], z[1], z[2]});
  double sum = 0;
  for (double& v : z) sum += (v = std::exp(v - mx));
  std::size_t best = 0;
  for (std::size_t k = 0; k < 3; ++k) {
    r.probability[k] = static_cast<float>(z[k] / sum);
    if (z[k] > z[best]) best = k;
  }
  r.state = best == 0 ? MaskState::none : best == 1 ? MaskState::worn : MaskState::below_nose;
  return r;
}

MaskClassifier MaskClassifier::train(const std::vector<Features>& x, const std::vector<int>& labels, double l2,
                                     int iterations) {
  if (x.empty() || x.size() != labels.size()) throw std::invalid_argument("mask classifier: no or mismatched training data");
  constexpr std::size_t F = kFeatures;
  Model m;
  const double n = static_cast<double>(x.size());
  for (std::size_t j = 0; j < F; ++j) {
    double s = 0, s2 = 0;
    for (const auto& row : x) s += row[j], s2 += static_cast<double>(row[j]) * row[j];
    const double mu = s / n;
    m.mean[j] = static_cast<float>(mu);
    m.stdev[j] = static_cast<float>(std::max(1e-6, std::sqrt(std::max(0.0, s2 / n - mu * mu))));
  }
  std::vector<std::array<double, F>> z(x.size());
  for (std::size_t i = 0; i < x.size(); ++i)
    for (std::size_t j = 0; j < F; ++j) z[i][j] = (x[i][j] - m.mean[j]) / m.stdev[j];
  std::array<std::array<double, F + 1>, 3> w{};
  const double rate = 0.5;
  for (int it = 0; it < iterations; ++it) {
    std::array<std::array<double, F + 1>, 3> grad{};
    for (std::size_t i = 0; i < x.size(); ++i) {
      std::array<double, 3> p{};
      double mx = -1e300;
      for (std::size_t k = 0; k < 3; ++k) {
        double s = w[k][F];
        for (std::size_t j = 0; j < F; ++j) s += w[k][j] * z[i][j];
        p[k] = s;
        mx = std::max(mx, s);
      }
      double sum = 0;
      for (double& v : p) sum += (v = std::exp(v - mx));
      for (std::size_t k = 0; k < 3; ++k) {
        const double err = p[k] / sum - (labels[i] == static_cast<int>(k) ? 1.0 : 0.0);
        for (std::size_t j = 0; j < F; ++j) grad[k][j] += err * z[i][j];
        grad[k][F] += err;
      }
    }
    for (std::size_t k = 0; k < 3; ++k)
      for (std::size_t j = 0; j <= F; ++j)
        w[k][j] -= rate * (grad[k][j] / n + (j < F ? l2 * w[k][j] : 0.0));
  }
  for (std::size_t k = 0; k < 3; ++k)
    for (std::size_t j = 0; j <= F; ++j) m.weights[k][j] = static_cast<float>(w[k][j]);
  return MaskClassifier(m);
}

void MaskClassifier::save(const std::filesystem::path& file, const std::string& provenance) const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "format" << YAML::Value << "gatetwin-mask-v1";
  out << YAML::Key << "provenance" << YAML::Value << YAML::Literal << provenance;
  out << YAML::Key << "classes" << YAML::Value << YAML::Flow << std::vector<std::string>{"none", "worn", "below_nose"};
  out << YAML::Key << "mean" << YAML::Value << YAML::Flow << std::vector<float>(model_.mean.begin(), model_.mean.end());
  out << YAML::Key << "stdev" << YAML::Value << YAML::Flow << std::vector<float>(model_.stdev.begin(), model_.stdev.end());
  out << YAML::Key << "weights" << YAML::Value << YAML::BeginSeq;
  for (const auto& row : model_.weights) out << YAML::Flow << std::vector<float>(row.begin(), row.end());
  out << YAML::EndSeq << YAML::EndMap;
  std::filesystem::create_directories(file.parent_path().empty() ? "." : file.parent_path());
  const auto tmp = std::filesystem::path(file.string() + ".partial");
  {
    std::ofstream o(tmp, std::ios::trunc);
    o << out.c_str() << "\n";
    if (!o.flush()) throw ModelError(file.string() + ": cannot write the mask classifier");
  }
  std::filesystem::rename(tmp, file);  // appears whole or not at all
}

MaskClassifier MaskClassifier::load(const std::filesystem::path& file) {
  const std::string fix = "fix with: gatetwin train-mask (writes " + file.string() + ")";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec))
    throw ModelError("mask-state classifier " + file.string() + " is missing; " + fix);
  try {
    const YAML::Node n = YAML::LoadFile(file.string());
    if (!n["format"] || n["format"].as<std::string>() != "gatetwin-mask-v1")
      throw ModelError(file.string() + ": format: not a gatetwin-mask-v1 classifier; " + fix);
    Model m;
    const auto mean = n["mean"].as<std::vector<float>>();
    const auto sd = n["stdev"].as<std::vector<float>>();
    const auto w = n["weights"];
    if (mean.size() != kFeatures || sd.size() != kFeatures || !w.IsSequence() || w.size() != 3)
      throw ModelError(file.string() + ": mean/stdev/weights have the wrong size for " + std::to_string(kFeatures) +
                       " features; " + fix);
    for (std::size_t j = 0; j < kFeatures; ++j) {
      m.mean[j] = mean[j];
      m.stdev[j] = sd[j];
      if (!(sd[j] > 0) || !std::isfinite(mean[j])) throw ModelError(file.string() + ": stdev: must be positive; " + fix);
    }
    for (std::size_t k = 0; k < 3; ++k) {
      const auto row = w[k].as<std::vector<float>>();
      if (row.size() != kFeatures + 1) throw ModelError(file.string() + ": weights: wrong row length; " + fix);
      for (std::size_t j = 0; j <= kFeatures; ++j) m.weights[k][j] = row[j];
    }
    return MaskClassifier(m);
  } catch (const YAML::Exception& e) {
    throw ModelError(file.string() + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg + "; " + fix);
  }
}

}  // namespace gatetwin::recognizer::vision
