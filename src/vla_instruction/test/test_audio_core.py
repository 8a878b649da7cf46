"""Pure audio plumbing: PCM decoding, streaming resampling, capture chunking, segmentation."""

import numpy as np
import pytest
from vla_instruction.core.audio import (AudioChunker, AudioFormatError, decode_pcm, encode_pcm,
                                        ENCODING_F32LE, ENCODING_S16LE, StreamResampler)
from vla_instruction.core.segmenter import SegmenterConfig, UtteranceSegmenter

RATE = 16000


# ----------------------------------------------------------------------------- PCM
def test_decode_s16le_and_f32le_round_trip():
    x = np.linspace(-0.9, 0.9, 1000).astype(np.float32)
    for enc, tol in ((ENCODING_S16LE, 1.0 / 32768), (ENCODING_F32LE, 0.0)):
        y = decode_pcm(encode_pcm(x, enc), enc, 1)
        assert y.dtype == np.float32 and y.shape == x.shape
        assert np.max(np.abs(y - x)) <= tol + 1e-7


def test_decode_downmixes_interleaved_channels():
    left = np.full(100, 0.5, np.float32)
    right = np.full(100, -0.25, np.float32)
    stereo = np.stack([left, right], axis=1)
    y = decode_pcm(encode_pcm(stereo, ENCODING_F32LE), ENCODING_F32LE, 2)
    assert y.shape == (100,) and np.allclose(y, 0.125)


def test_decode_rejects_bad_chunks_and_cleans_nan():
    with pytest.raises(AudioFormatError):
        decode_pcm(b'\x00\x01\x02', ENCODING_S16LE, 1)        # half a sample
    with pytest.raises(AudioFormatError):
        decode_pcm(b'\x00' * 4, ENCODING_S16LE, 2 + 1)        # not whole frames
    with pytest.raises(AudioFormatError):
        decode_pcm(b'\x00' * 4, 7, 1)
    with pytest.raises(AudioFormatError):
        decode_pcm(b'\x00' * 4, ENCODING_S16LE, 0)
    y = decode_pcm(np.array([np.nan, np.inf, 0.5], '<f4').tobytes(), ENCODING_F32LE, 1)
    assert np.all(np.isfinite(y)) and y[2] == 0.5


# ----------------------------------------------------------------------------- resampling
def _tone(freq, rate, seconds):
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize('in_rate', [8000, 16000, 22050, 44100, 48000])
def test_resampler_output_length_and_tone(in_rate):
    x = _tone(440.0, in_rate, 1.0)
    y = StreamResampler(in_rate).process(x)
    assert abs(y.size - RATE) <= 1
    # Past the filter's start-up transient: a clean 440 Hz tone of the same amplitude (the
    # anti-alias filter's phase delay is irrelevant for VAD and ASR, so it is not checked).
    tail = y[2000:] * np.hanning(y.size - 2000)
    spectrum = np.abs(np.fft.rfft(tail)) ** 2
    freqs = np.fft.rfftfreq(tail.size, 1.0 / RATE)
    peak = int(np.argmax(spectrum))
    assert abs(freqs[peak] - 440.0) < 2.0
    near = np.abs(freqs - 440.0) < 20.0
    assert spectrum[near].sum() / spectrum.sum() > 0.999     # > 30 dB tone-to-rest
    assert np.max(np.abs(y[2000:])) == pytest.approx(0.5, abs=0.02)


def test_resampler_removes_aliases_when_downsampling():
    # 12 kHz is above the 8 kHz Nyquist of 16 kHz: it must not fold back into the band.
    y = StreamResampler(48000).process(_tone(12000.0, 48000, 1.0))
    assert np.sqrt(np.mean(y[1000:] ** 2)) < 0.01


@pytest.mark.parametrize('in_rate', [22050, 48000, 8000])
def test_resampler_is_independent_of_chunking(in_rate):
    rng = np.random.default_rng(1)
    x = rng.normal(0, 0.2, in_rate * 2).astype(np.float32)
    whole = StreamResampler(in_rate).process(x)
    r = StreamResampler(in_rate)
    pieces, i = [], 0
    while i < x.size:
        n = int(rng.integers(1, 3000))
        pieces.append(r.process(x[i:i + n]))
        i += n
    chunked = np.concatenate(pieces)
    assert chunked.size == whole.size
    assert np.allclose(chunked, whole, atol=1e-5)


# ----------------------------------------------------------------------------- chunker
def test_chunker_fixed_size_chunks_with_sample_accurate_stamps():
    c = AudioChunker(16000, 2, chunk_frames=1600)   # 100 ms stereo S16LE
    frame = 4
    chunks = []
    t = 100.0
    frames_sent = 0
    for n in (1000, 512, 3000, 7, 2881):
        chunks += c.push(b'\x01' * (n * frame), t + frames_sent / 16000)
        frames_sent += n
    assert [ch.frames for ch in chunks] == [1600] * 4
    assert all(len(ch.data) == 1600 * frame for ch in chunks)
    assert [ch.first_frame for ch in chunks] == [0, 1600, 3200, 4800]
    assert np.allclose([ch.stamp for ch in chunks], [100.0, 100.1, 100.2, 100.3])
    rest = c.flush()
    assert len(rest) == 1 and rest[0].frames == frames_sent - 6400
    assert c.reanchors == 0


def test_chunker_reanchors_after_a_gap_and_rejects_partial_frames():
    c = AudioChunker(16000, 1, chunk_frames=160)
    assert len(c.push(b'\x00' * 320, 10.0)) == 1
    chunks = c.push(b'\x00' * 320, 15.0)   # 5 s later than the samples say: dropped blocks
    assert c.reanchors == 1
    assert chunks[0].stamp == pytest.approx(15.0)
    with pytest.raises(AudioFormatError):
        c.push(b'\x00' * 3, 16.0)


# ----------------------------------------------------------------------------- segmenter
def _energy_vad(frame):
    """A stand-in VAD for pure tests: loud frames are speech."""
    return 1.0 if np.sqrt(np.mean(frame ** 2)) > 0.05 else 0.0


def _stream(layout):
    """[('sil'|'tone', seconds)] -> samples, and the (start, end) s of each tone."""
    parts, spans, t = [], [], 0.0
    for kind, seconds in layout:
        n = int(round(seconds * RATE))
        parts.append(_tone(300.0, RATE, seconds)[:n] if kind == 'tone'
                     else np.zeros(n, np.float32))
        if kind == 'tone':
            spans.append((t, t + n / RATE))
        t += n / RATE
    return np.concatenate(parts), spans


def _run(cfg, x, chunk=1600):
    seg = UtteranceSegmenter(cfg, _energy_vad)
    out = []
    for i in range(0, x.size, chunk):
        out += seg.feed(x[i:i + chunk])
    return out + seg.flush(), seg


def test_segmenter_finds_two_utterances_with_exact_boundaries():
    x, spans = _stream([('sil', 1.0), ('tone', 2.0), ('sil', 1.2), ('tone', 0.8), ('sil', 1.0)])
    cfg = SegmenterConfig(min_silence_ms=500, speech_pad_ms=200)
    utts, _ = _run(cfg, x, chunk=1234)
    assert len(utts) == 2
    frame_s = cfg.frame_samples / RATE
    for u, (a, b) in zip(utts, spans):
        assert u.reason == 'silence'
        assert abs(u.start_s - a) <= frame_s and abs(u.end_s - b) <= frame_s
        assert u.audio.size == u.end_sample - u.start_sample
        # Padded by 200 ms on both sides.
        assert (u.speech_start - u.start_sample) == pytest.approx(0.2 * RATE, abs=1)
        assert (u.end_sample - u.speech_end) == pytest.approx(0.2 * RATE, abs=1)


def test_segmenter_result_does_not_depend_on_chunk_size():
    x, _ = _stream([('sil', 0.5), ('tone', 1.0), ('sil', 0.7), ('tone', 0.6), ('sil', 0.6)])
    cfg = SegmenterConfig()
    a, _ = _run(cfg, x, chunk=100)
    b, _ = _run(cfg, x, chunk=16000)
    assert [(u.start_sample, u.end_sample, u.reason) for u in a] == \
        [(u.start_sample, u.end_sample, u.reason) for u in b]
    assert all(np.array_equal(u.audio, v.audio) for u, v in zip(a, b))


def test_short_pauses_do_not_split_and_short_bursts_are_dropped():
    x, _ = _stream([('sil', 0.5), ('tone', 0.6), ('sil', 0.3), ('tone', 0.6), ('sil', 0.8),
                    ('tone', 0.1), ('sil', 1.0)])
    utts, seg = _run(SegmenterConfig(min_silence_ms=500, min_speech_ms=250), x)
    assert len(utts) == 1                  # the 0.3 s pause is inside the utterance
    assert utts[0].duration_s == pytest.approx(1.5, abs=0.07)
    assert seg.dropped == 1                # the 0.1 s click


def test_max_utterance_cuts_long_speech():
    x, _ = _stream([('sil', 0.5), ('tone', 5.0), ('sil', 1.0)])
    utts, _ = _run(SegmenterConfig(max_utterance_s=2.0), x)
    assert [u.reason for u in utts] == ['max_length', 'max_length', 'silence']
    assert sum(u.duration_s for u in utts) == pytest.approx(5.0, abs=0.07)
    # Consecutive pieces never share audio.
    assert all(a.end_sample <= b.start_sample for a, b in zip(utts, utts[1:]))


def test_flush_closes_an_open_utterance_and_bad_config_is_refused():
    x, _ = _stream([('sil', 0.5), ('tone', 1.0)])
    utts, _ = _run(SegmenterConfig(), x)
    assert [u.reason for u in utts] == ['flush']
    with pytest.raises(ValueError):
        UtteranceSegmenter(SegmenterConfig(threshold=1.5), _energy_vad)
    with pytest.raises(ValueError):
        UtteranceSegmenter(SegmenterConfig(max_utterance_s=0.1, min_speech_ms=250), _energy_vad)
