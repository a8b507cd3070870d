"""Model: small CNN face encoder -> LSTM cell (one step per frame) -> linear head -> softmax."""
import torch
import torch.nn as nn

from common import CLASSES, HIDDEN

EMB = 128
# (in, out, kernel, stride, maxpool after)
CONVS = [(1, 32, 5, 2, False), (32, 32, 3, 1, True), (32, 64, 3, 1, False), (64, 64, 3, 1, True),
         (64, 128, 3, 1, False), (128, 128, 3, 1, False)]


class Encoder(nn.Module):
    """48x48 face -> 128-d embedding. ~21.7 M multiply-adds per image (twice that for two views)."""

    def __init__(self, convs=CONVS, emb=EMB, dropout=0.3):
        super().__init__()
        layers = []
        for cin, cout, k, s, pool in convs:
            layers += [nn.Conv2d(cin, cout, k, stride=s, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
            if pool:
                layers.append(nn.MaxPool2d(2))
        self.trunk = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(convs[-1][1], emb)

    def features(self, x):
        return self.pool(self.trunk(x)).flatten(1)

    def features_flip(self, x):
        """Mean of the pooled features of the face and its mirror image (stage 2; the MIRROR=1 export)."""
        return two_view_features(self.features, x)

    def embed(self, f):
        return torch.relu(self.fc(self.drop(f)))

    def forward(self, x):
        return self.embed(self.features(x))


# Column order of a mirrored 48x48 face: a constant index, so the export is a Gather (opset 13 has no flip op).
MIRROR_INDEX = torch.arange(47, -1, -1)


def two_view_features(features, x):
    """features() of [faces; mirrored faces] in one batch of 2B, averaged per pair -> [B, C]."""
    idx = MIRROR_INDEX if x.device == MIRROR_INDEX.device else MIRROR_INDEX.to(x.device)  # the export traces on the CPU
    f = features(torch.cat([x, x.index_select(3, idx)]))
    return f.reshape(2, -1, f.shape[1]).mean(0)


class LSTMStep(nn.Module):
    """Plain LSTM cell written with two Linear layers so that it exports as Gemm (quantisable) ops."""

    def __init__(self, inp=EMB, hidden=HIDDEN):
        super().__init__()
        self.hidden = hidden
        self.wx = nn.Linear(inp, 4 * hidden)
        self.wh = nn.Linear(hidden, 4 * hidden, bias=False)
        with torch.no_grad():  # forget-gate bias 1
            self.wx.bias.zero_()
            self.wx.bias[hidden:2 * hidden] = 1.0

    def forward(self, x, h, c):
        z, H = self.wx(x) + self.wh(h), self.hidden
        i, f, g, o = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class EmotionNet(nn.Module):
    def __init__(self, hidden=HIDDEN, convs=CONVS):
        super().__init__()
        self.enc = Encoder(convs)
        self.still_head = nn.Linear(EMB, len(CLASSES))   # stage-1 auxiliary head (not exported)
        self.lstm = LSTMStep(EMB, hidden)
        self.head = nn.Linear(hidden, len(CLASSES))
        self.hidden = hidden

    def still_logits(self, x):
        return self.still_head(self.enc(x))

    def run_sequence(self, emb, h=None, c=None):
        """emb [S,T,E] -> logits [S,T,6], starting from zero state unless given."""
        S, T, _ = emb.shape
        if h is None:
            h = emb.new_zeros(S, self.hidden)
            c = emb.new_zeros(S, self.hidden)
        out = []
        for t in range(T):
            h, c = self.lstm(emb[:, t], h, c)
            out.append(self.head(h))
        return torch.stack(out, 1)


class StreamingStep(nn.Module):
    """The exported graph: (face [B,1,48,48], h [B,H], c [B,H]) -> (probs [B,6], h_out, c_out)."""

    def __init__(self, encoder, lstm, head):
        super().__init__()
        self.encoder, self.lstm, self.head = encoder, lstm, head

    def forward(self, face, h, c):
        h2, c2 = self.lstm(self.encoder(face), h, c)
        return torch.softmax(self.head(h2), dim=1), h2, c2


class FusedEncoder(nn.Module):
    """Inference encoder with BatchNorm folded into conv weights/biases."""

    def __init__(self, enc, mirror=False):
        super().__init__()
        self.use_mirror = mirror
        layers, mods = [], list(enc.trunk)
        for i, m in enumerate(mods):
            if isinstance(m, nn.Conv2d):
                bn = mods[i + 1]
                k = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                conv = nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, bias=True)
                conv.weight.data = m.weight.data * k.view(-1, 1, 1, 1)
                conv.bias.data = bn.bias.data - bn.running_mean * k
                layers.append(conv)
            elif isinstance(m, (nn.ReLU, nn.MaxPool2d)):
                layers.append(m)
        self.trunk = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = enc.fc

    def features(self, x):
        return self.pool(self.trunk(x)).flatten(1)

    def forward(self, x):
        f = two_view_features(self.features, x) if self.use_mirror else self.features(x)
        return torch.relu(self.fc(f))


def deploy_step(model, mirror=False):
    model = model.eval()
    return StreamingStep(FusedEncoder(model.enc, mirror).eval(), model.lstm, model.head).eval()


def count_macs(hidden=HIDDEN, convs=CONVS, emb=EMB):
    side, macs = 48, 0
    for cin, cout, k, s, pool in convs:
        side //= s
        macs += side * side * cout * cin * k * k
        if pool:
            side //= 2
    return macs + convs[-1][1] * emb + 4 * hidden * (emb + hidden) + hidden * len(CLASSES)
