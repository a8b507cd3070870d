"""Batch augmentation in torch (pixels p in [0,1], [N,1,48,48]) and synthetic face streams for the LSTM."""
import math

import torch
import torch.nn.functional as F

from common import standardize


def _u(shape, lo, hi, g):
    return torch.rand(shape, generator=g) * (hi - lo) + lo


def geometric(p, zoom, rot_deg, tx, ty, flip):
    """Affine warp: zoom > 1 zooms in, tx/ty in fractions of the width, flip in {1,-1}; reflection border."""
    a = rot_deg * math.pi / 180
    cos, sin = torch.cos(a) / zoom, torch.sin(a) / zoom
    theta = torch.stack([torch.stack([cos * flip, -sin, tx * 2], 1),
                         torch.stack([sin * flip, cos, ty * 2], 1)], 1)
    grid = F.affine_grid(theta, list(p.shape), align_corners=False)
    return F.grid_sample(p, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def photometric(p, gain, bias, gamma):
    p = p.clamp(0, 1) ** gamma.view(-1, 1, 1, 1)
    m = p.mean(dim=(2, 3), keepdim=True)
    return ((p - m) * gain.view(-1, 1, 1, 1) + m + bias.view(-1, 1, 1, 1)).clamp(0, 1)


def lowres(p, mask, g):
    """Blur by down/up-sampling a random subset (mimics small faces / motion blur)."""
    if mask.any():
        size = int(torch.randint(20, 40, (1,), generator=g))
        sub = F.interpolate(p[mask], size=(size, size), mode="area")
        p = p.clone()
        p[mask] = F.interpolate(sub, size=p.shape[-2:], mode="bilinear", align_corners=False)
    return p


def occlude(p, mask, g, lo=6, hi=22, rep=1):
    """Random grey rectangles on the images selected by mask (hands, glasses, hair); with rep > 1 the same
    box is used for `rep` consecutive images (one occluder per stream)."""
    n = p.shape[0]
    m = n // rep

    def r(x):
        return x.repeat_interleave(rep)
    h = r(torch.randint(lo, hi, (m,), generator=g))
    w = r(torch.randint(lo, hi, (m,), generator=g))
    y0 = (r(torch.rand(m, generator=g)) * (48 - h)).long()
    x0 = (r(torch.rand(m, generator=g)) * (48 - w)).long()
    ys = torch.arange(48).view(1, 48, 1)
    xs = torch.arange(48).view(1, 1, 48)
    box = (ys >= y0.view(-1, 1, 1)) & (ys < (y0 + h).view(-1, 1, 1)) & \
          (xs >= x0.view(-1, 1, 1)) & (xs < (x0 + w).view(-1, 1, 1)) & mask.view(-1, 1, 1)
    val = r(torch.rand(m, generator=g)).view(n, 1, 1).expand(-1, 48, 48)
    return torch.where(box.unsqueeze(1), val.unsqueeze(1), p)


def finish(p, noise_sigma, g):
    """Sensor noise, then uint8 quantisation (what the daemon sees), then THE preprocessing."""
    p = p + torch.randn(p.shape, generator=g) * noise_sigma.view(-1, 1, 1, 1)
    p = torch.round(p.clamp(0, 1) * 255) / 255
    return standardize(p)


def still_batch(u8, g, strength=1.0, zoom_lo=0.85, zoom_hi=1.2, domain=0.0):
    """Strong augmentation of uint8 [N,48,48] stills -> model input [N,1,48,48]. domain > 0 adds
    cross_domain() at that strength (model 2.0 recipe); 0 keeps the 1.x recipe's random stream unchanged."""
    n = u8.shape[0]
    p = u8.float().unsqueeze(1) / 255
    s = strength
    flip = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    p = geometric(p, _u(n, zoom_lo, zoom_hi, g), _u(n, -15 * s, 15 * s, g),
                  _u(n, -0.08 * s, 0.08 * s, g), _u(n, -0.08 * s, 0.08 * s, g), flip)
    p = photometric(p, _u(n, 1 - 0.4 * s, 1 + 0.4 * s, g), _u(n, -0.15 * s, 0.15 * s, g),
                    torch.exp(_u(n, -0.4 * s, 0.4 * s, g)))
    if domain > 0:
        p = cross_domain(p, g, domain)
    p = lowres(p, torch.rand(n, generator=g) < 0.2 * s, g)
    p = occlude(p, torch.rand(n, generator=g) < 0.35 * s, g)
    return finish(p, _u(n, 0, 0.03 * s, g) * (torch.rand(n, generator=g) < 0.4).float(), g)


# ---- cross-population augmentation (model 2.0): what differs between FER2013, CK+, JAFFE and a classroom camera
def gaussian_blur(p, sigma):
    """Per-image Gaussian blur, sigma [N] in pixels (0 = unchanged), 7-tap separable kernel, reflected border."""
    n = p.shape[0]
    x = torch.arange(-3, 4, dtype=p.dtype, device=p.device).view(1, 7)
    k = torch.exp(-x ** 2 / (2 * sigma.clamp(min=1e-3).view(n, 1) ** 2))
    k = (k / k.sum(1, keepdim=True)).view(n, 1, 1, 7)
    y = F.pad(p.transpose(0, 1), (3, 3, 3, 3), mode="reflect")  # [1,N,H+6,W+6]: one group per image
    y = F.conv2d(y, k, groups=n)
    y = F.conv2d(y, k.transpose(2, 3), groups=n)
    return y.transpose(0, 1)


_JPEG_LUMA = torch.tensor([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=torch.float32).view(8, 8)


def _dct8(device):
    i = torch.arange(8, dtype=torch.float32, device=device)
    d = torch.cos((2 * i.view(1, 8) + 1) * i.view(8, 1) * math.pi / 16) * math.sqrt(2 / 8)
    d[0] /= math.sqrt(2)
    return d  # orthonormal: coefficients = D @ block @ D^T


def jpeg(p, quality):
    """Baseline-JPEG luma round trip per image (8x8 DCT, the IJG table scaled to `quality` [N] in 1..100,
    rounding): blocking and ringing as in a recompressed web image or an MJPEG camera. 48x48 only."""
    n, _, h, w = p.shape
    q = quality.clamp(1, 100).view(n, 1, 1, 1, 1)
    scale = torch.where(q < 50, 5000 / q, 200 - 2 * q)
    table = ((_JPEG_LUMA.to(p.device) * scale + 50) / 100).floor().clamp(min=1)  # [N,1,1,8,8]
    d = _dct8(p.device)
    blocks = (p * 255 - 128).reshape(n, h // 8, 8, w // 8, 8).transpose(2, 3)  # [N,6,6,8,8]
    coef = d @ blocks @ d.T
    coef = torch.round(coef / table) * table
    out = (d.T @ coef @ d).transpose(2, 3).reshape(n, 1, h, w)
    return ((out + 128) / 255).clamp(0, 1)


def cross_domain(p, g, s=1.0):
    """Another camera and population: strong gamma (exposure), contrast compression or stretch, Gaussian blur
    (focus, small faces) and JPEG compression, each on a random share of the batch. p in [0,1], [N,1,48,48]."""
    n = p.shape[0]

    def some(share):
        return torch.rand(n, generator=g, device=p.device) < share * s
    gam = torch.where(some(0.3), torch.exp(_u(n, -0.7, 0.7, g).to(p.device)), torch.ones(n, device=p.device))
    con = torch.where(some(0.3), _u(n, 0.45, 1.6, g).to(p.device), torch.ones(n, device=p.device))
    p = photometric(p, con, torch.zeros(n, device=p.device), gam)
    sig = torch.where(some(0.25), _u(n, 0.5, 1.6, g).to(p.device), torch.zeros(n, device=p.device))
    p = torch.where((sig > 0).view(n, 1, 1, 1), gaussian_blur(p, sig), p)
    qual = _u(n, 20, 90, g).to(p.device)
    return torch.where(some(0.3).view(n, 1, 1, 1), jpeg(p, qual), p)


def stream_batch(u8, g, zoom_lo=0.85, zoom_hi=1.15):
    """uint8 [S,T,48,48] frame sources -> [S,T,1,48,48] realistic jittered stream of one tracked face:
    one base transform per sequence plus small per-frame jitter (box jitter, light flicker, noise, blur,
    a passing occluder on some sequences)."""
    S, T = u8.shape[:2]
    n = S * T

    def seq(lo, hi):  # per-sequence value repeated over time
        return _u(S, lo, hi, g).repeat_interleave(T)

    def jit(a):
        return _u(n, -a, a, g)

    p = u8.reshape(n, 1, 48, 48).float() / 255
    flip = torch.where(torch.rand(S, generator=g) < 0.5, -1.0, 1.0).repeat_interleave(T)
    zoom = seq(zoom_lo, zoom_hi) * (1 + jit(0.04))
    p = geometric(p, zoom, seq(-12, 12) + jit(2.5), seq(-0.06, 0.06) + jit(0.025),
                  seq(-0.06, 0.06) + jit(0.025), flip)
    p = photometric(p, seq(0.7, 1.3) * (1 + jit(0.05)), seq(-0.12, 0.12) + jit(0.03),
                    torch.exp(seq(-0.35, 0.35)))
    p = lowres(p, (torch.rand(S, generator=g) < 0.15).repeat_interleave(T) | (torch.rand(n, generator=g) < 0.05), g)
    # occluder present on a contiguous time window for ~15 % of sequences
    t = torch.arange(T).repeat(S)
    start = torch.randint(0, T, (S,), generator=g).repeat_interleave(T)
    dur = torch.randint(2, T + 1, (S,), generator=g).repeat_interleave(T)
    occ = (torch.rand(S, generator=g) < 0.15).repeat_interleave(T) & (t >= start) & (t < start + dur)
    p = occlude(p, occ, g, rep=T)
    sigma = seq(0, 0.03) * (torch.rand(n, generator=g) < 0.9).float()
    return finish(p, sigma, g).reshape(S, T, 1, 48, 48)
