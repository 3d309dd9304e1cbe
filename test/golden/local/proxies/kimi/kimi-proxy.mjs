// kimi proxy program (fixture)
