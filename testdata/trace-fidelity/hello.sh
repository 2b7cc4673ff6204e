#!/bin/sh
echo "from a script" > /fid/from-script
