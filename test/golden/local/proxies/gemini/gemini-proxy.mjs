// gemini proxy program (fixture)
