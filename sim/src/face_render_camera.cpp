// The scene around the face and the camera: a cluttered entrance background (wall, door frame, signs,
// floor), then blur (defocus and motion), colour cast, sensor noise and a JPEG round trip.
#include <algorithm>
#include <array>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "face_render_internal.hpp"
#include "gatetwin/sim/random.hpp"

namespace gatetwin::sim::render {
namespace {

using detail::iround;

cv::Scalar jitter(RandomStream& r, cv::Vec3d c, double amount) {
  const double k = r.uniform(1 - amount, 1 + amount);
  return {c[0] * k, c[1] * k, c[2] * k};
}

// A 1-D box of fractional length `len` (>= 1) convolved with a Gaussian of `sigma`; normalised.
cv::Mat1f kernel_1d(double len, double sigma) {
  len = std::max(1.0, len);
  const int half_box = static_cast<int>(std::ceil((len - 1) / 2));
  const int half_g = sigma > 0.2 ? static_cast<int>(std::ceil(2.5 * sigma)) : 0;
  const int n = 2 * (half_box + half_g) + 1;
  std::vector<double> box(static_cast<std::size_t>(2 * half_box + 1), 1.0);
  if (half_box > 0) box.front() = box.back() = ((len - 1) / 2 - (half_box - 1));
  std::vector<double> gauss(static_cast<std::size_t>(2 * half_g + 1), 1.0);
  for (int i = -half_g; i <= half_g; ++i)
    gauss[static_cast<std::size_t>(i + half_g)] = half_g == 0 ? 1.0 : std::exp(-0.5 * i * i / (sigma * sigma));
  cv::Mat1f k(n, 1, 0.0f);
  double sum = 0;
  for (std::size_t i = 0; i < box.size(); ++i)
    for (std::size_t j = 0; j < gauss.size(); ++j) {
      const double v = box[i] * gauss[j];
      k(static_cast<int>(i + j), 0) += static_cast<float>(v);
      sum += v;
    }
  k /= sum;
  return k;
}

}  // namespace

cv::Mat draw_background(std::uint64_t seed, cv::Size size) {
  RandomStream r(seed, "face.background");
  const cv::Vec3d walls[] = {{200, 205, 210}, {175, 198, 215}, {215, 208, 190}, {188, 210, 198},
                             {160, 160, 165}, {125, 135, 145}, {150, 170, 190}};
  const cv::Vec3d wall = walls[r.below(7)];
  // Wall with soft uneven lighting: a small grid of gains, interpolated.
  cv::Mat3b grid(4, 5);
  const double slope = r.uniform(-0.15, 0.15);
  for (int y = 0; y < grid.rows; ++y)
    for (int x = 0; x < grid.cols; ++x) {
      const double k = r.uniform(0.9, 1.08) * (1 + slope * (x - 2) / 2.0) * (1 - 0.06 * y);
      for (int ch = 0; ch < 3; ++ch) grid(y, x)[ch] = cv::saturate_cast<std::uint8_t>(wall[ch] * k);
    }
  cv::Mat frame;
  cv::resize(grid, frame, size, 0, 0, cv::INTER_LINEAR);
  const int w = size.width, h = size.height;
  // Floor.
  const int floor_y = iround(h * r.uniform(0.78, 0.92));
  cv::rectangle(frame, {0, floor_y}, {w, h}, jitter(r, {90, 100, 110}, 0.2), cv::FILLED);
  cv::line(frame, {0, floor_y}, {w, floor_y}, cv::Scalar(60, 60, 60), 2, cv::LINE_AA);
  // Door frame or gate posts.
  const int n_posts = 1 + static_cast<int>(r.below(2));
  for (int i = 0; i < n_posts; ++i) {
    const int x = iround(w * r.uniform(0.02, 0.9));
    const int pw = iround(w * r.uniform(0.015, 0.05));
    const cv::Scalar metal = jitter(r, r.bernoulli(0.5) ? cv::Vec3d(70, 70, 75) : cv::Vec3d(160, 165, 170), 0.15);
    cv::rectangle(frame, {x, 0}, {x + pw, floor_y}, metal, cv::FILLED);
    cv::line(frame, {x + pw / 3, 0}, {x + pw / 3, floor_y}, metal * 1.25, 1, cv::LINE_AA);
  }
  if (r.bernoulli(0.6)) {  // a door: a darker panel with a frame
    const int x = iround(w * r.uniform(0.0, 0.7)), dw = iround(w * r.uniform(0.18, 0.3));
    const int top = iround(h * r.uniform(0.05, 0.2));
    cv::rectangle(frame, {x, top}, {x + dw, floor_y}, jitter(r, wall * 0.75, 0.1), cv::FILLED);
    cv::rectangle(frame, {x, top}, {x + dw, floor_y}, cv::Scalar(50, 50, 55), 3, cv::LINE_AA);
  }
  // Signs and notices: coloured boards with lines of "text".
  const int n_signs = static_cast<int>(r.below(3)) + 1;
  const cv::Vec3d boards[] = {{40, 40, 190}, {230, 230, 230}, {160, 90, 30}, {40, 160, 60}, {30, 200, 230}};
  for (int i = 0; i < n_signs; ++i) {
    const int sw = iround(w * r.uniform(0.08, 0.2)), sh = iround(h * r.uniform(0.06, 0.16));
    const int x = iround(w * r.uniform(0, 0.9)), y = iround(h * r.uniform(0.02, 0.45));
    const cv::Vec3d board = boards[r.below(5)];
    cv::rectangle(frame, {x, y}, {x + sw, y + sh}, cv::Scalar(board[0], board[1], board[2]), cv::FILLED);
    const cv::Scalar ink = board[0] + board[1] + board[2] > 450 ? cv::Scalar(40, 40, 160) : cv::Scalar(240, 240, 240);
    for (int ty = y + 4; ty + 3 < y + sh - 2; ty += 7) {
      int tx = x + 4;
      while (tx + 4 < x + sw - 3) {
        const int cw = 3 + static_cast<int>(r.below(5));
        cv::rectangle(frame, {tx, ty}, {std::min(tx + cw, x + sw - 4), ty + 3}, ink, cv::FILLED);
        tx += cw + 2 + static_cast<int>(r.below(3));
      }
    }
  }
  return frame;
}

void apply_camera(cv::Mat& frame, const Capture& c, std::uint64_t seed) {
  if (frame.empty()) return;
  RandomStream r(seed, "face.camera");
  const double motion = std::max(0.0, c.motion_blur_px), defocus = std::max(0.0, c.defocus_px);
  const double angle = r.uniform(0, detail::kPi);
  if (motion > 0.6 || defocus > 0.35) {  // below that, blur is invisible
    const double lx = std::abs(motion * std::cos(angle)), ly = std::abs(motion * std::sin(angle));
    const cv::Mat1f kx = kernel_1d(1 + lx, defocus), ky = kernel_1d(1 + ly, defocus);
    cv::sepFilter2D(frame, frame, -1, kx, ky, {-1, -1}, 0, cv::BORDER_REFLECT);
  }
  // Colour cast and sensor noise in one pass. Noise by table: an 8-bit draw indexes the normal's quantiles
  // for the brightness noise of a pixel, three 4-bit draws give its weaker colour noise.
  std::array<std::array<std::uint8_t, 256>, 3> gain{};
  for (int ch = 0; ch < 3; ++ch)
    for (int v = 0; v < 256; ++v)
      gain[static_cast<std::size_t>(ch)][static_cast<std::size_t>(v)] =
          static_cast<std::uint8_t>(std::clamp(iround(v * c.colour_cast[ch]), 0, 255));
  const double sigma = std::max(0.0, c.noise_sigma);
  const bool noisy = sigma > 0.05;
  std::array<int, 256> luma{};
  std::array<int, 16> chroma{};
  if (noisy) {
    for (int i = 0; i < 256; ++i) luma[static_cast<std::size_t>(i)] = iround(0.85 * sigma * inverse_normal_cdf((i + 0.5) / 256));
    for (int i = 0; i < 16; ++i) chroma[static_cast<std::size_t>(i)] = iround(0.5 * sigma * inverse_normal_cdf((i + 0.5) / 16));
  }
  if (noisy || c.colour_cast != cv::Vec3d(1, 1, 1)) {
    CV_Assert(frame.type() == CV_8UC3);
    std::uint64_t bits = 0;
    int left = 0;
    for (int y = 0; y < frame.rows; ++y) {
      std::uint8_t* p = frame.ptr<std::uint8_t>(y);
      for (int x = 0; x < frame.cols; ++x, p += 3) {
        int n0 = 0, n1 = 0, n2 = 0;
        if (noisy) {
          if (left < 20) bits = r.next_u64(), left = 64;
          const int l = luma[bits & 255];
          n0 = l + chroma[(bits >> 8) & 15], n1 = l + chroma[(bits >> 12) & 15], n2 = l + chroma[(bits >> 16) & 15];
          bits >>= 20, left -= 20;
        }
        p[0] = static_cast<std::uint8_t>(std::clamp(gain[0][p[0]] + n0, 0, 255));
        p[1] = static_cast<std::uint8_t>(std::clamp(gain[1][p[1]] + n1, 0, 255));
        p[2] = static_cast<std::uint8_t>(std::clamp(gain[2][p[2]] + n2, 0, 255));
      }
    }
  }
  if (c.jpeg_quality > 0) {
    std::vector<std::uint8_t> buf;
    cv::imencode(".jpg", frame, buf, {cv::IMWRITE_JPEG_QUALITY, std::clamp(c.jpeg_quality, 1, 100)});
    frame = cv::imdecode(buf, cv::IMREAD_COLOR);
  }
}

}  // namespace gatetwin::sim::render
