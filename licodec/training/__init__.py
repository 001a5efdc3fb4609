"""Rate-distortion training: data, losses and the training loop."""
