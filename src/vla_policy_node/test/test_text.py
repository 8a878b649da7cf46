"""The nano tokenizer reads Korean directly (jamo), never maps input to <unk>."""

import numpy as np
import pytest
from vla_policy_node.policies import CharTokenizer, CheckpointError
from vla_policy_node.policies.presets import LEFT, RIGHT
from vla_policy_node.policies.text import BOS, EOS, PAD, UNK


def test_left_and_right_differ_and_round_trip():
    tok = CharTokenizer()
    left, right = tok.encode(LEFT), tok.encode(RIGHT)
    assert left != right
    assert left[0] == BOS and left[-1] == EOS and UNK not in left
    assert tok.decode(left) == LEFT
    # 왼 and 오른 share nothing opaque: both are spelled with jamo ids
    assert all(i < tok.vocab_size for i in left + right)


def test_everything_is_representable():
    tok = CharTokenizer()
    for text in ['Go LEFT!', '全角ＡＢＣ', '🙂 emoji', 'ㄱㄴ 호환 자모', '']:
        ids = tok.encode(text)
        assert UNK not in ids and all(0 <= i < tok.vocab_size for i in ids)
    assert tok.decode(tok.encode('Go LEFT!')) == 'go left!'  # lower-cased


def test_batch_padding_and_truncation():
    tok = CharTokenizer(max_length=10)
    ids, mask = tok(['a', LEFT])
    assert ids.shape == mask.shape == (2, 10)
    assert mask[0].sum() == 3 and ids[0, 3] == PAD and mask[1].sum() == 10
    assert ids.dtype == np.int64


def test_byte_mode_and_persistence(tmp_path):
    tok = CharTokenizer('byte', 64)
    assert tok.vocab_size == 4 + 256
    tok.save(str(tmp_path))
    again = CharTokenizer.load(str(tmp_path))
    assert again.to_dict() == tok.to_dict()
    with pytest.raises(CheckpointError, match='missing'):
        CharTokenizer.load(str(tmp_path / 'nothing'))
    (tmp_path / 'vocab.json').write_text('{"type": "char", "version": 99}')
    with pytest.raises(CheckpointError, match='version'):
        CharTokenizer.load(str(tmp_path))
