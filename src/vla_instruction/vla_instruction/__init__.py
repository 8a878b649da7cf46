"""Korean text and voice instruction front-end.

Korean normaliser, voice-activity detection + speech recognition, and the stop-word fast
path to the safety gate's e-stop.
"""
