"""Pure core of vla_instruction: no rclpy, no message types (a workspace test enforces it).

- `normalizer`: Korean / English / mixed instruction text -> structured task + canonical form.
- `paraphrases`: the 8 navigation scenarios, their canonical instructions and paraphrase table.
- `audio`: PCM decoding, streaming resampling, fixed-size chunking of capture blocks.
- `segmenter`: voice-activity probabilities -> utterance boundaries (threshold, silence, limits).
"""
