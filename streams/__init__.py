"""The Faust app, settings, codecs, topic catalogue and CLI of stockloop."""
