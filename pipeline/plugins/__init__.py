"""Plugins that let other tools use congvan's stages (the OCRmyPDF OCR engine)."""
