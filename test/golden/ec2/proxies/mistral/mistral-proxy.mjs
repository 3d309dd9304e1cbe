// mistral proxy program (fixture)
