"""Build-time tools: model training and benchmark inputs, outside the runtime package."""
