"""DeepSpeech2 as kospeech builds it: a 2-layer conv front-end, bidirectional RNNs, CTC outputs."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from tune_asr.config import TrainConfig
from tune_asr.tensors import to_device


def conv_output_lengths(frame_lengths: torch.Tensor) -> torch.Tensor:
    """Frames after the front-end: the first conv halves time (kernel 11, pad 5, stride 2)."""
    return (frame_lengths - 1) // 2 + 1


class ConvFrontEnd(nn.Module):
    """Conv2d(1→C, 41×11, stride 2×2) and Conv2d(C→C, 21×11, stride 2×1), each with BN + Hardtanh(0, 20).

    Kernels span (frequency × time); frequency shrinks 4×, time 2×. Padded frames are zeroed after
    every layer (kospeech's MaskCNN) so that a batch's padding never leaks into real frames.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.channels_last = False  # see use_channels_last
        self.layers = nn.ModuleList([
            nn.Conv2d(1, channels, kernel_size=(41, 11), stride=(2, 2), padding=(20, 5), bias=False),
            nn.BatchNorm2d(channels),
            nn.Hardtanh(0, 20, inplace=True),
            nn.Conv2d(channels, channels, kernel_size=(21, 11), stride=(2, 1), padding=(10, 5), bias=False),
            nn.BatchNorm2d(channels),
            nn.Hardtanh(0, 20, inplace=True),
        ])

    @staticmethod
    def output_size(n_mels: int, channels: int) -> int:
        freq = (n_mels + 2 * 20 - 41) // 2 + 1
        freq = (freq + 2 * 10 - 21) // 2 + 1
        return channels * freq

    def use_channels_last(self) -> None:
        """Weights and activations in channels-last layout (cuDNN's native one for bf16 convolutions)."""
        self.to(memory_format=torch.channels_last)
        self.channels_last = True

    def forward(self, feats: torch.Tensor, out_lengths: torch.Tensor) -> torch.Tensor:
        x = feats.transpose(1, 2).unsqueeze(1)  # (batch, 1, mels, frames)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        for layer in self.layers:
            x = layer(x)
            valid = torch.arange(x.size(3), device=x.device)[None, :] < out_lengths[:, None]
            x = x * valid[:, None, None, :].to(x.dtype)
        batch, channels, freq, frames = x.shape
        return x.permute(0, 3, 1, 2).reshape(batch, frames, channels * freq)


class RecurrentLayer(nn.Module):
    """BatchNorm → ReLU → one bidirectional GRU/LSTM over packed sequences → dropout.

    Dropout sits outside the RNN because PyTorch's own RNN dropout only acts between stacked
    layers, which is why kospeech's 0.3 never applied.
    """

    def __init__(self, input_size: int, hidden: int, rnn_type: str, dropout: float):
        super().__init__()
        rnn_class = nn.GRU if rnn_type == "gru" else nn.LSTM
        self.norm = nn.BatchNorm1d(input_size)
        self.rnn = rnn_class(input_size, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, lengths_cpu: torch.Tensor) -> torch.Tensor:
        """Rows sorted by falling length (``DeepSpeech2`` sorts once for all layers): packing then needs no
        permutation, whose index copy to the GPU would wait for it at every layer."""
        x = torch.relu(self.norm(x.transpose(1, 2)).transpose(1, 2))
        packed = pack_padded_sequence(x, lengths_cpu, batch_first=True, enforce_sorted=True)
        output, _ = self.rnn(packed)
        output, _ = pad_packed_sequence(output, batch_first=True, total_length=x.size(1))
        return self.dropout(output)


class DeepSpeech2(nn.Module):
    """Features ``(batch, frames, n_mels)`` → log-probabilities ``(batch, frames/2, vocab)``."""

    def __init__(self, config: TrainConfig, vocab_size: int):
        super().__init__()
        self.front_end = ConvFrontEnd(config.conv_channels)
        size = ConvFrontEnd.output_size(config.n_mels, config.conv_channels)
        layers = []
        for _ in range(config.rnn_layers):
            layers.append(RecurrentLayer(size, config.rnn_hidden, config.rnn_type, config.dropout))
            size = 2 * config.rnn_hidden
        self.rnns = nn.ModuleList(layers)
        self.norm = nn.LayerNorm(size)
        self.classifier = nn.Linear(size, vocab_size, bias=False)

    def forward(self, feats: torch.Tensor, frame_lengths_cpu: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``frame_lengths_cpu`` stays on the host: packing needs it there, and so no sync is paid."""
        out_lengths = conv_output_lengths(frame_lengths_cpu)
        x = self.front_end(feats, to_device(out_lengths, feats.device))
        order = None
        if bool((out_lengths[:-1] < out_lengths[1:]).any()):  # on the host: no sync
            order = torch.argsort(out_lengths, descending=True, stable=True)
            x, out_lengths = x.index_select(0, to_device(order, x.device)), out_lengths[order]
        for rnn in self.rnns:
            x = rnn(x, out_lengths)
        if order is not None:  # back to the caller's order
            restore = torch.argsort(order)
            x, out_lengths = x.index_select(0, to_device(restore, x.device)), out_lengths[restore]
        logits = self.classifier(self.norm(x))
        return logits.float().log_softmax(dim=-1), out_lengths
