"""Features: MobileNetV2 converted for the workers, and 1280 features per image."""
